"""Where an attention model looks: its map for every generated word, and how well the maps find
the objects of the built-in data.

  word_maps(model, features, max_length)   greedy captions as word lists, one (G, G) map per word
  localisation(model, features, records)   the share of one-object images whose map points at
                                           the object, with the chance rate
  format_localisation(result)              "attention localisation: P% (chance Q%)"

Pictures of the maps: rnncap.plots.plot_attention.
"""
import numpy as np

IMAGE_SIZE = 64  # the built-in images are 64 x 64 pixels; the grid covers the whole image


def word_maps(model, features, max_length=30, batch_size=100):
    """
    Greedy captions of an attention model with the attention map behind every word.

    Inputs:
    - model: a CaptioningRNN with cell_type 'attention'
    - features: grid features of shape (N, C, G, G) (an array or anything indexable by a slice)
    - max_length: longest caption generated
    - batch_size: images sampled at a time

    Returns:
    - captions: list of N lists of words, each caption up to and without its <END>
    - maps: list of N float arrays of shape (len(words), G, G); maps[n][t] is the map the model
      attended with when it chose word t (each sums to 1)
    """
    if getattr(model, "cell_type", None) != "attention":
        raise ValueError("attention maps need a model with cell_type 'attention', got %r"
                         % (getattr(model, "cell_type", None),))
    captions, maps = [], []
    for start in range(0, features.shape[0], batch_size):
        batch = np.asarray(features[start:start + batch_size])
        rows, weights = model.sample(batch, max_length=max_length, return_attention=True)
        for row, w in zip(rows, weights):
            words = []
            for idx in row:
                word = model.idx_to_word[int(idx)]
                if word in ("<END>", "<NULL>"):
                    break
                words.append(word)
            captions.append(words)
            maps.append(np.asarray(w[:len(words)], dtype=np.float64))
    return captions, maps


def cell_centres(G, image_size=IMAGE_SIZE):
    """Pixel coordinates (x, y) of the centres of a G x G grid's cells over the image: two arrays
    of shape (G, G), cell (i, j) covering rows [i, i + 1) * size / G and columns [j, j + 1) * size / G."""
    centre = (np.arange(G) + 0.5) * image_size / G
    return np.meshgrid(centre, centre)  # x varies along columns j, y along rows i


def localisation(model, features, records, max_length=30, image_size=IMAGE_SIZE):
    """
    How often the attention map points at the object, on images with a single object.

    For each such image, the maps of the steps that emit a colour word or a shape word (the
    words that name the object) are averaged; the image counts as localised when the cell where
    that map is largest has its centre inside the object's box. Chance is the share of the grid's
    cells whose centre lies inside the box, averaged over the images: what a map pointing at a
    random cell would score. An image whose caption names no colour and no shape counts as not
    localised.

    Inputs:
    - model: a CaptioningRNN with cell_type 'attention'
    - features: grid features (N, C, G, G) of the images
    - records: N scene records (rnncap.coco_utils.load_objects) in the same order; each object
      has a 'box' [x0, y0, x1, y1] in pixels
    - max_length: longest caption generated
    - image_size: the images' width and height in pixels

    Returns:
    - result: dict with 'images' (one-object images scored), 'localised' (how many of them),
      'score' and 'chance' (fractions in [0, 1]; NaN when no image has a single object)
    """
    from .shapes import COLOURS, SHAPES

    if len(records) != features.shape[0]:
        raise ValueError("records must hold one scene record per image (%d), got %d"
                         % (features.shape[0], len(records)))
    single = [n for n, r in enumerate(records) if len(r["objects"]) == 1]
    if not single:
        return {"images": 0, "localised": 0, "score": float("nan"), "chance": float("nan")}
    captions, maps = word_maps(model, _rows(features, single), max_length)
    G = features.shape[2]
    xs, ys = cell_centres(G, image_size)
    naming = set(COLOURS) | set(SHAPES)
    localised, chance = 0, 0.0
    for n, words, word_map in zip(single, captions, maps):
        x0, y0, x1, y1 = records[n]["objects"][0]["box"]
        inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
        chance += inside.mean()
        steps = [t for t, word in enumerate(words) if word in naming]
        if steps:
            where = np.unravel_index(np.argmax(word_map[steps].mean(axis=0)), (G, G))
            localised += bool(inside[where])
    return {"images": len(single), "localised": localised, "score": localised / len(single),
            "chance": chance / len(single)}


def format_localisation(result):
    """The evaluate command's line: 'attention localisation: P% (chance Q%)'."""
    return "attention localisation: %.1f%% (chance %.1f%%)" % (100 * result["score"],
                                                              100 * result["chance"])


def _rows(features, idx):
    """features[idx] for an array or a lazy / HDF5-backed one (sorted unique indices)."""
    if isinstance(features, np.ndarray):
        return features[idx]
    return np.asarray(features[np.asarray(idx)])
