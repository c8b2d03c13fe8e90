"""YAML read safely for OKR files: the safe loader, dates left as text, aliases and nesting capped."""

from __future__ import annotations

from typing import Any

import yaml

MAX_YAML_NODES = 200_000  # values once aliases are expanded; a large OKR file has a few thousand
MAX_YAML_DEPTH = 64  # nesting; an OKR file is about eight deep


class Refused(yaml.MarkedYAMLError):
    """A YAML document refused before it is built: `problem` names the sentence okrfile.problem.<problem>."""


def expanded_size(root: yaml.Node, *, limit: int) -> int:
    """How many values the document holds once every alias is expanded, counting up to just past `limit`."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = limit + 1  # a node inside itself (a recursive alias) never ends
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > limit:
                break
        sizes[id(node)] = total
        return total

    return size(root)


class Loader(yaml.SafeLoader):
    """YAML's safe loader, leaving dates as text so that pydantic reports a bad one with its line.

    Aliases are capped (a "billion laughs" file is refused at once, not expanded) and so is nesting.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise Refused(problem="depth", problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        if node is not None and expanded_size(node, limit=MAX_YAML_NODES) > MAX_YAML_NODES:
            raise Refused(problem="aliases", problem_mark=node.start_mark)
        return node


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
