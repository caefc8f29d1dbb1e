"""What a built-in caption asserts, what its image shows, and how often a model's captions are right.

BLEU compares words with the five references. On the built-in data the truth is known, so a
caption can be checked exactly: parse it with the dataset's grammar into facts and compare them
with the facts of the image's scene.

Facts are a dict:

    {"objects": ((size, colour, shape), ...),   # one or two tuples; size is 'small' or 'big'
     "cell": (row, col) or None,                # a lone object's cell of the 3x3 layout
     "relation": 'left', 'above' or None}       # two objects: objects[0] is left of / above
                                                #   objects[1] (the canonical order)

Synonyms map to one value ("large" -> 'big', "over" -> 'above', "near the top" -> (0, 1)), and
two objects are put in the canonical order, so "a left of b" and "b to the right of a" have
equal facts. Equal facts mean the same statement about the image.
"""
from rnncap import shapes as _shapes

_SIZE_OF = {w: size for size, words in _shapes.SIZE_WORDS.items() for w in words}
_COLOURS = set(_shapes.COLOURS)
_SHAPES = set(_shapes.SHAPES)
_CELL_OF = {tuple(p.split()): cell for cell, phrases in _shapes.CELL_PHRASES.items()
            for p in phrases}
_RELATION_OF = {tuple(p.split()): rel for rel, phrases in _shapes.RELATIONS.items()
                for p in phrases}
# A template as a list of tokens: a literal word, or a slot name ('o', 'p', 'a', 'r', 'b').
_SLOTS = {"{o}": "o", "{p}": "p", "{a}": "a", "{r}": "r", "{b}": "b"}


def _tokens(template):
    return [_SLOTS.get(t, ("word", t)) for t in template.split()]


_ONE = [_tokens(t) for t in _shapes.ONE_TEMPLATES]
_TWO = [_tokens(t) for t in _shapes.TWO_TEMPLATES]


def _match(pattern, words, found):
    """Match a token pattern against the whole word list.

    Returns the dict of slot values (an object tuple, a cell or a relation), or None.
    """
    if not pattern:
        return found if not words else None
    token, rest = pattern[0], pattern[1:]
    if isinstance(token, tuple):  # a literal word
        if words and words[0] == token[1]:
            return _match(rest, words[1:], found)
        return None
    if token in ("o", "a", "b"):  # an object: size word, colour, shape
        if len(words) >= 3 and words[0] in _SIZE_OF and words[1] in _COLOURS \
                and words[2] in _SHAPES:
            obj = (_SIZE_OF[words[0]], words[1], words[2])
            return _match(rest, words[3:], dict(found, **{token: obj}))
        return None
    table = _CELL_OF if token == "p" else _RELATION_OF
    for phrase, value in table.items():  # phrases may prefix each other: try each one
        if tuple(words[:len(phrase)]) == phrase:
            result = _match(rest, words[len(phrase):], dict(found, **{token: value}))
            if result is not None:
                return result
    return None


def caption_facts(caption):
    """
    Parse a built-in caption into the facts it asserts.

    Inputs:
    - caption: str, lower-case words separated by spaces (no <START>/<END>), e.g.
      "a big red circle to the left of a small blue square"

    Returns:
    - facts: dict {"objects", "cell", "relation"} (see the module docstring), or None when the
      dataset's grammar cannot produce the caption (a broken sentence, an unknown word, two
      identical objects)
    """
    if not isinstance(caption, str):
        raise ValueError("caption must be a str, got %s" % type(caption).__name__)
    words = caption.split()
    for pattern in _ONE:
        found = _match(pattern, words, {})
        if found is not None:
            return {"objects": (found["o"],), "cell": found["p"], "relation": None}
    for pattern in _TWO:
        found = _match(pattern, words, {})
        if found is not None:
            if found["a"] == found["b"]:
                return None  # the generator never draws two identical objects
            return _canonical(found["a"], found["r"], found["b"])
    return None


def _canonical(a, rel, b):
    """Facts of "a REL b", with 'right' and 'below' turned around into 'left' and 'above'."""
    if rel in ("right", "below"):
        a, b, rel = b, a, {"right": "left", "below": "above"}[rel]
    return {"objects": (a, b), "cell": None, "relation": rel}


def scene_facts(record):
    """
    The facts an image's scene makes true.

    Inputs:
    - record: a scene from sample_scene, or its entry in {train,val}2014_objects.json:
      {"objects": [one or two dicts with colour, shape, size, row, col]}

    Returns:
    - facts: dict {"objects", "cell", "relation"}, equal to caption_facts of every caption the
      generator writes for that scene
    """
    objects = record.get("objects") if isinstance(record, dict) else None
    if not isinstance(objects, (list, tuple)) or len(objects) not in (1, 2):
        raise ValueError("record must be a dict with a list of 1 or 2 'objects', got %r"
                         % (record,))
    try:
        named = [(o["size"], o["colour"], o["shape"]) for o in objects]
        cells = [(int(o["row"]), int(o["col"])) for o in objects]
    except (KeyError, TypeError, ValueError):
        raise ValueError("each object needs colour, shape, size, row and col, got %r"
                         % (objects,)) from None
    if len(objects) == 1:
        return {"objects": (named[0],), "cell": cells[0], "relation": None}
    rel = _shapes.relation({"row": cells[0][0], "col": cells[0][1]},
                           {"row": cells[1][0], "col": cells[1][1]})
    return _canonical(named[0], rel, named[1])


def caption_accuracy(captions, records):
    """
    How many captions state exactly what their images show.

    Inputs:
    - captions: list of N generated captions (str)
    - records: list of N scene records (scene_facts' input), one per caption's image

    Returns a dict:
    - 'fully_correct': fraction of captions whose facts equal the image's facts
    - 'one_object', 'two_objects': the same fraction over images with one / two objects
      (None when there are no such images)
    - 'both_objects_right': over two-object images, the fraction of captions that name both
      objects right (size, colour and shape), whatever relation they state (None as above)
    - 'num_images', 'num_one_object', 'num_two_objects': ints
    """
    if isinstance(captions, str) or not isinstance(captions, (list, tuple)):
        raise ValueError("captions must be a list of str, got %s" % type(captions).__name__)
    if not isinstance(records, (list, tuple)) or len(records) != len(captions):
        raise ValueError("records must be a list with one scene record per caption (%d), got %s"
                         % (len(captions), len(records) if isinstance(records, (list, tuple))
                            else type(records).__name__))
    if not captions:
        raise ValueError("captions is empty: need at least one caption")
    right = {1: [], 2: []}
    both_named = []
    for caption, record in zip(captions, records):
        truth, said = scene_facts(record), caption_facts(caption)
        n = len(truth["objects"])
        right[n].append(said == truth)
        if n == 2:
            both_named.append(said is not None and sorted(said["objects"])
                              == sorted(truth["objects"]))

    def fraction(values):
        return sum(values) / len(values) if values else None

    return {"fully_correct": fraction(right[1] + right[2]), "one_object": fraction(right[1]),
            "two_objects": fraction(right[2]), "both_objects_right": fraction(both_named),
            "num_images": len(captions), "num_one_object": len(right[1]),
            "num_two_objects": len(right[2])}


def format_caption_accuracy(accuracy):
    """
    One line of text for a caption_accuracy result, e.g.
    "caption accuracy: 50.2% fully correct (one object 93.0%, two objects 21.0%; both objects
    right 33.0%)" (a share without images shows as "-").
    """
    def pct(value):
        return "-" if value is None else "%.1f%%" % (100 * value)

    return ("caption accuracy: %s fully correct (one object %s, two objects %s; both objects "
            "right %s)" % (pct(accuracy["fully_correct"]), pct(accuracy["one_object"]),
                           pct(accuracy["two_objects"]), pct(accuracy["both_objects_right"])))
