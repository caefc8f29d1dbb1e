"""The caption checker of the built-in data: caption_facts, scene_facts, caption_accuracy.

The expected facts are worked out here from each scene's pixel coordinates (which object is
further left or higher up), not from the generator's own row/col bookkeeping, and the captions
are every caption the grammar can write for a scene, enumerated here from its word lists.
"""
import itertools
import json

import numpy as np
import pytest

from rnncap import shapes
from rnncap.shapes import (caption_accuracy, caption_facts, format_caption_accuracy,
                           scene_facts)

CELL = 64 / 3


def expected_facts(scene):
    """The facts of a scene, from the objects' centres in pixels."""
    objs = scene["objects"]
    named = [(o["size"], o["colour"], o["shape"]) for o in objs]
    if len(objs) == 1:
        return {"objects": (named[0],), "relation": None,
                "cell": (int(objs[0]["cy"] // CELL), int(objs[0]["cx"] // CELL))}
    a, b = objs
    if abs(a["cy"] - b["cy"]) < CELL / 2:  # same row: the left one comes first
        first = 0 if a["cx"] < b["cx"] else 1
        relation = "left"
    else:  # same column: the upper one comes first
        first = 0 if a["cy"] < b["cy"] else 1
        relation = "above"
    return {"objects": (named[first], named[1 - first]), "cell": None, "relation": relation}


def all_captions(scene):
    """Every caption the grammar can write for a scene (all templates, orders and synonyms)."""
    objs = scene["objects"]

    def phrases(o):
        return ["%s %s %s" % (w, o["colour"], o["shape"]) for w in shapes.SIZE_WORDS[o["size"]]]

    if len(objs) == 1:
        o = objs[0]
        return [t.format(o=op, p=p) for t in shapes.ONE_TEMPLATES for op in phrases(o)
                for p in shapes.CELL_PHRASES[(o["row"], o["col"])]]
    out = []
    for a, b in (objs, objs[::-1]):
        for t, ap, bp, r in itertools.product(shapes.TWO_TEMPLATES, phrases(a), phrases(b),
                                              shapes.RELATIONS[shapes.relation(a, b)]):
            out.append(t.format(a=ap, r=r, b=bp))
    return out


def test_every_caption_of_random_scenes_parses_to_the_scene_facts():
    rng = np.random.default_rng(5)
    kinds = set()
    for _ in range(300):
        scene = shapes.sample_scene(rng)
        truth = expected_facts(scene)
        kinds.add(truth["relation"] or truth["cell"])
        assert scene_facts(scene) == truth
        record = json.loads(json.dumps(shapes.scene_record(scene)))  # as the objects file has it
        assert scene_facts(record) == truth
        enumerated = all_captions(scene)
        assert len(set(enumerated)) == (32 if truth["relation"] else 16)
        for caption in enumerated + shapes.scene_captions(scene, rng):
            assert caption_facts(caption) == truth, caption
    assert len(kinds) == 11  # every cell and both canonical relations were seen


def test_hand_parsed_captions():
    assert caption_facts("a big red circle to the left of a small blue square") == {
        "objects": (("big", "red", "circle"), ("small", "blue", "square")),
        "cell": None, "relation": "left"}
    assert caption_facts("the little white diamond is under the large green triangle") == {
        "objects": (("big", "green", "triangle"), ("small", "white", "diamond")),
        "cell": None, "relation": "above"}
    assert caption_facts("near the bottom there is a large purple square") == {
        "objects": (("big", "purple", "square"),), "cell": (2, 1), "relation": None}
    assert caption_facts("  a small yellow circle  at the top left ") == {
        "objects": (("small", "yellow", "circle"),), "cell": (0, 0), "relation": None}


@pytest.mark.parametrize("group", [
    ["a big red circle to the left of a small blue square",
     "a large red circle left of a small blue square",
     "a small blue square to the right of a big red circle",
     "the little blue square is right of the large red circle",
     "the big red circle is left of the little blue square"],
    ["a small green triangle over a big white diamond",
     "the big white diamond is under the small green triangle",
     "a large white diamond below a little green triangle",
     "the little green triangle is above the large white diamond"],
    ["in the middle there is a large yellow square", "the big yellow square is in the center",
     "a large yellow square in the middle", "there is a big yellow square in the center"],
])
def test_equivalent_phrasings_agree(group):
    facts = [caption_facts(c) for c in group]
    assert facts[0] is not None and all(f == facts[0] for f in facts)


@pytest.mark.parametrize("a, b", [
    ("a big red circle left of a small blue square", "a big red circle right of a small blue square"),
    ("a big red circle left of a small blue square", "a big blue circle left of a small red square"),
    ("a big red circle left of a small blue square", "a big red square left of a small blue circle"),
    ("a big red circle left of a small blue square", "a small red circle left of a big blue square"),
    ("a big red circle above a small blue square", "a big red circle left of a small blue square"),
    ("a big red circle at the top", "a big red circle at the bottom"),
    ("a big red circle on the left", "a big red circle in the top left corner"),
])
def test_different_statements_differ(a, b):
    fa, fb = caption_facts(a), caption_facts(b)
    assert fa is not None and fb is not None and fa != fb


@pytest.mark.parametrize("caption", [
    "", "a big red circle", "a red big circle at the top", "a big red circle in the top middle",
    "a big red circle at the top <UNK>", "a huge red circle at the top",
    "a big red circle at the top left corner", "there is a big red circle",
    "a big red circle left of", "a big red circle to the left of a big red circle",
    "a big red circle to the left of a small blue square at the top",
    "the big red circle is left the small blue square", "a big red circle at the top <END>",
    "a big red circle in the top left corner corner", "a big red circle near the top the",
])
def test_captions_the_grammar_cannot_produce_are_none(caption):
    assert caption_facts(caption) is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="caption must be a str"):
        caption_facts(["a", "big"])
    with pytest.raises(ValueError, match="record"):
        scene_facts({"objects": []})
    with pytest.raises(ValueError, match="colour, shape, size, row and col"):
        scene_facts({"objects": [{"colour": "red"}]})
    record = {"objects": [{"colour": "red", "shape": "circle", "size": "big", "row": 0, "col": 0}]}
    with pytest.raises(ValueError, match="one scene record per caption"):
        caption_accuracy(["a big red circle at the top left"], [record, record])
    with pytest.raises(ValueError, match="empty"):
        caption_accuracy([], [])
    with pytest.raises(ValueError, match="captions must be a list"):
        caption_accuracy("a big red circle at the top left", [record])


def _obj(size, colour, shape, row, col):
    return {"size": size, "colour": colour, "shape": shape, "row": row, "col": col}


def test_caption_accuracy_hand_counted():
    lone = {"objects": [_obj("big", "red", "circle", 0, 0)]}
    pair = {"objects": [_obj("small", "blue", "square", 1, 2), _obj("big", "red", "circle", 1, 0)]}
    cases = [  # (caption, record): 3 of 4 lone objects right, 1 of 4 pairs right
        ("a big red circle in the top left corner", lone),
        ("at the top left there is a large red circle", lone),
        ("the big red circle is at the top left", lone),
        ("a big red circle at the top", lone),                       # wrong cell
        ("the small blue square is right of the big red circle", pair),  # right
        ("a big red circle to the right of a small blue square", pair),  # relation wrong
        ("a big blue circle to the left of a small red square", pair),   # colours swapped
        ("a big red circle to the left of", pair),                       # not a sentence
    ]
    acc = caption_accuracy([c for c, _ in cases], [r for _, r in cases])
    assert acc == {"fully_correct": 0.5, "one_object": 0.75, "two_objects": 0.25,
                   "both_objects_right": 0.5, "num_images": 8, "num_one_object": 4,
                   "num_two_objects": 4}
    assert format_caption_accuracy(acc) == ("caption accuracy: 50.0% fully correct (one object "
                                            "75.0%, two objects 25.0%; both objects right 50.0%)")
    only_lone = caption_accuracy(["a big red circle at the top"], [lone])
    assert only_lone["fully_correct"] == 0.0 and only_lone["two_objects"] is None
    assert format_caption_accuracy(only_lone) == ("caption accuracy: 0.0% fully correct (one "
                                                  "object 0.0%, two objects -; both objects "
                                                  "right -)")
    # a caption about a lone object is never right for a pair, even if it names one of them
    assert caption_accuracy(["a big red circle on the left"], [pair])["both_objects_right"] == 0
