"""Caption metrics: BLEU-1..4 and CIDEr-D, computed exactly as the coco-caption toolkit does.

Both metrics take pre-tokenised, lower-case captions (a caption is split on whitespace; no
lower-casing or punctuation stripping happens here) in the coco-caption layout:

  refs: dict image_id -> list of reference strings (at least one per image)
  hyps: dict image_id -> one hypothesis string (a one-element list [string] is also accepted,
        which is how the toolkit itself stores hypotheses)

The results match the `pycocoevalcap` Bleu and Cider scorers to 1e-6 (tests/test_metrics.py
compares them when that package is installed); it is pure Python, no Java.

Bad input raises a ValueError naming the argument: refs or hyps that are not dicts or are empty,
different image ids in refs and hyps, a hypothesis that is not a string, a reference list that is
empty or holds a non-string. An EMPTY hypothesis string "" is valid, as in the toolkit: it matches
nothing, so it adds zero to every score (for BLEU its closest reference length still counts
in r while it adds 0 to c, so it also strengthens the brevity penalty).

evaluate_model(model, data, ...) captions one image per unique image of a split and scores the
captions against all of that image's references.
"""
import math
from collections import Counter

import numpy as np

from rnncap._validate import check_array, check_indices

MAX_N = 4          # n-grams of length 1..4
CIDER_SIGMA = 6.0  # CIDEr-D length-penalty width
_TINY = 1e-15      # the toolkit's smoothing constants for BLEU: (correct + tiny) / (guess + small)
_SMALL = 1e-9
_SPECIAL = ("<START>", "<END>", "<NULL>")


def _ngram_counts(words, n=MAX_N):
    """Counter of every k-gram (a tuple of words) of `words`, for k = 1..n."""
    counts = Counter()
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i:i + k])] += 1
    return counts


def _check_captions(refs, hyps):
    """Validate refs/hyps (see the module docstring) and tokenise them.

    Returns:
    - ref_words: list over images of lists of reference word lists
    - hyp_words: list over images of the hypothesis word list (same image order)
    """
    for name, value in (("refs", refs), ("hyps", hyps)):
        if not isinstance(value, dict):
            raise ValueError("%s must be a dict image_id -> captions, got %s"
                             % (name, type(value).__name__))
    if not refs:
        raise ValueError("refs is empty: need at least one image")
    if set(refs) != set(hyps):
        no_hyp = [k for k in refs if k not in hyps][:5]
        no_ref = [k for k in hyps if k not in refs][:5]
        raise ValueError("refs and hyps must have the same image ids; ids without a hypothesis: "
                         "%r, ids without references: %r (first 5 shown)" % (no_hyp, no_ref))
    ref_words, hyp_words = [], []
    for image_id in refs:
        hyp = hyps[image_id]
        if isinstance(hyp, (list, tuple)) and len(hyp) == 1:
            hyp = hyp[0]  # the toolkit's own [caption] layout
        if not isinstance(hyp, str):
            raise ValueError("hyps[%r] must be one caption string, got %r" % (image_id, hyp))
        group = refs[image_id]
        if not isinstance(group, (list, tuple)):
            raise ValueError("refs[%r] must be a list of caption strings, got %s"
                             % (image_id, type(group).__name__))
        if len(group) == 0:
            raise ValueError("refs[%r] is an empty list: every image needs at least one "
                             "reference caption" % (image_id,))
        for j, ref in enumerate(group):
            if not isinstance(ref, str):
                raise ValueError("refs[%r][%d] must be a caption string, got %r" % (image_id, j, ref))
        ref_words.append([ref.split() for ref in group])
        hyp_words.append(hyp.split())
    return ref_words, hyp_words


def bleu(refs, hyps):
    """Corpus BLEU-1..4 with the coco-caption toolkit's exact semantics.

    For each image, every hypothesis n-gram count is clipped by the largest count of that
    n-gram in any one reference; clipped matches and hypothesis n-gram totals are summed over
    the corpus before dividing. The brevity penalty uses, per image, the reference length
    closest to the hypothesis length (ties go to the shorter reference), summed over the corpus:
    BP = exp(1 - r / c) when c < r. As in the toolkit, each precision is smoothed as
    (matches + 1e-15) / (total + 1e-9), so a BLEU-n with no n-gram match is tiny, not exactly 0.

    Inputs:
    - refs: dict image_id -> list of reference strings (non-empty list)
    - hyps: dict image_id -> hypothesis string (same ids); "" is allowed and matches nothing

    Returns:
    - scores: list of 4 floats [BLEU-1, BLEU-2, BLEU-3, BLEU-4], each in [0, 1]
    """
    ref_words, hyp_words = _check_captions(refs, hyps)
    correct, guess = [0] * MAX_N, [0] * MAX_N
    hyp_len = ref_len = 0
    for group, hyp in zip(ref_words, hyp_words):
        max_ref_counts = Counter()
        for ref in group:
            max_ref_counts |= _ngram_counts(ref)  # Counter | keeps the max count per n-gram
        for gram, count in _ngram_counts(hyp).items():
            correct[len(gram) - 1] += min(count, max_ref_counts[gram])
        for k in range(1, MAX_N + 1):
            guess[k - 1] += max(0, len(hyp) - k + 1)
        hyp_len += len(hyp)
        ref_len += min((abs(len(ref) - len(hyp)), len(ref)) for ref in group)[1]

    scores, precision_product = [], 1.0
    for k in range(MAX_N):
        precision_product *= (correct[k] + _TINY) / (guess[k] + _SMALL)
        scores.append(precision_product ** (1.0 / (k + 1)))  # geometric mean of p_1..p_(k+1)
    ratio = (hyp_len + _TINY) / (ref_len + _SMALL)
    if ratio < 1:
        penalty = math.exp(1 - 1 / ratio)
        scores = [s * penalty for s in scores]
    return scores


def _tfidf(counts, doc_freq, log_num_images):
    """TF-IDF vector of one caption and its norm per n-gram order.

    Inputs:
    - counts: Counter n-gram -> count in the caption
    - doc_freq: Counter n-gram -> number of images whose references contain it
    - log_num_images: log of the number of images in the corpus

    Returns:
    - vec: dict n-gram -> count * (log N - log max(1, df))
    - norms: list of MAX_N floats, the L2 norm of vec restricted to each n-gram order
    """
    vec, sq_norms = {}, [0.0] * MAX_N
    for gram, count in counts.items():
        weight = count * (log_num_images - math.log(max(1.0, doc_freq[gram])))
        vec[gram] = weight
        sq_norms[len(gram) - 1] += weight * weight
    return vec, [math.sqrt(s) for s in sq_norms]


def _cider_pair(hyp, ref, sigma):
    """Per-order CIDEr-D similarity of one hypothesis to one reference.

    Inputs:
    - hyp, ref: tuples (vec, norms, length) with vec/norms from _tfidf, length in words

    Returns:
    - sims: list of MAX_N floats, clipped cosine similarity times the Gaussian length penalty
    """
    hyp_vec, hyp_norms, hyp_len = hyp
    ref_vec, ref_norms, ref_len = ref
    # The toolkit measures length as the bigram count (len - 1); the difference is the same
    # whenever both captions are non-empty, and an empty one scores 0 either way.
    penalty = math.exp(-float(hyp_len - ref_len) ** 2 / (2 * sigma ** 2))
    dots = [0.0] * MAX_N
    for gram, weight in hyp_vec.items():
        ref_weight = ref_vec.get(gram, 0.0)
        dots[len(gram) - 1] += min(weight, ref_weight) * ref_weight  # clipped by the reference
    sims = []
    for k in range(MAX_N):
        if hyp_norms[k] != 0 and ref_norms[k] != 0:
            dots[k] /= hyp_norms[k] * ref_norms[k]
        sims.append(dots[k] * penalty)
    return sims


def cider_d(refs, hyps):
    """Corpus CIDEr-D with the coco-caption toolkit's exact semantics.

    Document frequencies come from the references: df(g) is the number of images whose
    references contain n-gram g. Each caption becomes TF-IDF vectors (one per n = 1..4) with
    weight count * (log N_images - log max(1, df)). An image's score is 10 times the mean, over
    n and over its references, of the cosine similarity between hypothesis and reference vectors,
    where each hypothesis weight is first clipped to the reference weight (min(h, r) * r) and
    the similarity is multiplied by exp(-(len_hyp - len_ref)^2 / (2 * 6^2)). The corpus score
    is the mean over images. With a single image every idf is log 1 = 0, so the score is 0;
    CIDEr-D only means something over a corpus.

    Inputs:
    - refs: dict image_id -> list of reference strings (non-empty list)
    - hyps: dict image_id -> hypothesis string (same ids); "" is allowed and scores 0

    Returns:
    - score: float, the corpus CIDEr-D (0 for no overlap; 10 for an exact match with
      n-grams unique to their image, as long as the captions have at least 4 words)
    """
    ref_words, hyp_words = _check_captions(refs, hyps)
    ref_counts = [[_ngram_counts(ref) for ref in group] for group in ref_words]
    doc_freq = Counter()
    for group in ref_counts:
        doc_freq.update(set().union(*group))  # each image counts once per n-gram
    log_num_images = math.log(float(len(ref_words)))

    scores = []
    for group, hyp, counts_group in zip(ref_words, hyp_words, ref_counts):
        hyp_side = _tfidf(_ngram_counts(hyp), doc_freq, log_num_images) + (len(hyp),)
        total = [0.0] * MAX_N
        for ref, counts in zip(group, counts_group):
            ref_side = _tfidf(counts, doc_freq, log_num_images) + (len(ref),)
            total = [t + s for t, s in zip(total, _cider_pair(hyp_side, ref_side, CIDER_SIGMA))]
        scores.append(10.0 * (sum(total) / MAX_N) / len(group))
    return float(np.mean(scores))


def _decode(row, idx_to_word, name):
    """Caption string from one row of word indices: stop at <END>, drop <START> and <NULL>."""
    words = []
    for idx in row:
        try:
            word = idx_to_word[int(idx)]
        except (KeyError, IndexError):
            raise ValueError("%s holds word index %d, which is not in the vocabulary"
                             % (name, int(idx))) from None
        if word == "<END>":
            break
        if word not in _SPECIAL:
            words.append(word)
    return " ".join(words)


def _check_positive_int(name, value, allow_none=False):
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError("%s must be a positive integer%s, got %r"
                         % (name, " or None" if allow_none else "", value))


def _reference_captions(data, split, image_ids):
    """dict image index -> list of that image's decoded reference captions, for image_ids."""
    captions = check_indices("data['%s_captions']" % split, data["%s_captions" % split],
                             len(data["idx_to_word"]))
    if captions.ndim != 2:
        raise ValueError("data['%s_captions'] must have shape (N, T), got %s"
                         % (split, captions.shape))
    owners = check_array("data['%s_image_idxs']" % split, data["%s_image_idxs" % split],
                         shape=(captions.shape[0],), dtype_kind="i")
    refs = {int(i): [] for i in image_ids}
    for row in np.flatnonzero(np.isin(owners, image_ids)):
        refs[int(owners[row])].append(
            _decode(captions[row], data["idx_to_word"], "data['%s_captions']" % split))
    return refs


def evaluate_model(model, data, split="val", num_images=None, decode="greedy", beam_size=3,
                   max_length=30, batch_size=100, return_captions=False):
    """Caption each image of a split once and score the captions with BLEU-1..4 and CIDEr-D.

    The images are the unique values of data['<split>_image_idxs'] in increasing order (the first
    `num_images` of them, or all); nothing random happens. Each image's hypothesis is scored
    against ALL of its reference captions in data['<split>_captions']. Captions are decoded
    without <START>, <END> and <NULL>, stopping at the first <END> (<UNK> is kept as a word).

    Inputs:
    - model: an object with sample(features, max_length=T) -> (N, T) int array of word indices
      (and sample(features, max_length=T, beam_size=k) for beam search) and idx_to_word, a
      mapping index -> word
    - data: dict from rnncap.coco_utils.load_coco_data, with '<split>_captions' (N, T) int,
      '<split>_image_idxs' (N,) int, '<split>_features' (an array or a lazy object indexed with
      a sorted index array), 'idx_to_word' (list)
    - split: 'train', 'val', ... (the prefix of the data keys)
    - num_images: how many images to caption (None: all; more than exist: all)
    - decode: 'greedy' or 'beam'
    - beam_size: beam width for decode='beam'
    - max_length: longest caption the model may produce
    - batch_size: images per call to model.sample
    - return_captions: also return the generated captions

    Returns a dict:
    - 'BLEU-1' .. 'BLEU-4', 'CIDEr-D': floats
    - 'num_images': int, the number of images scored
    - 'captions' (only if return_captions): dict image index -> generated caption (str)
    """
    keys = ["%s_%s" % (split, k) for k in ("captions", "image_idxs", "features")]
    if not isinstance(data, dict) or any(k not in data for k in keys + ["idx_to_word"]):
        have = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError("data must be a dict with keys %s and 'idx_to_word' (split=%r), got %s"
                         % (", ".join(repr(k) for k in keys), split, have))
    if decode not in ("greedy", "beam"):
        raise ValueError("decode must be 'greedy' or 'beam', got %r" % (decode,))
    _check_positive_int("num_images", num_images, allow_none=True)
    _check_positive_int("beam_size", beam_size)
    _check_positive_int("max_length", max_length)
    _check_positive_int("batch_size", batch_size)

    owners = check_array("data['%s_image_idxs']" % split, data["%s_image_idxs" % split],
                         ndim=1, dtype_kind="i")
    image_ids = np.unique(owners)[:num_images]  # sorted: lazy/h5py features need sorted indices
    if image_ids.size == 0:
        raise ValueError("data['%s_image_idxs'] is empty: no images to evaluate" % split)
    features = data["%s_features" % split]
    if hasattr(features, "shape"):
        check_indices("data['%s_image_idxs']" % split, image_ids, features.shape[0])
    refs = _reference_captions(data, split, image_ids)
    idx_to_word = getattr(model, "idx_to_word", data["idx_to_word"])

    hyps = {}
    for start in range(0, image_ids.size, batch_size):
        batch = image_ids[start:start + batch_size]
        kwargs = {"max_length": max_length}
        if decode == "beam":
            kwargs["beam_size"] = beam_size
        sampled = check_array("model.sample output", model.sample(features[batch], **kwargs),
                              shape=(batch.size, None), dtype_kind="i")
        for image_id, row in zip(batch, sampled):
            hyps[int(image_id)] = _decode(row, idx_to_word, "model.sample output")

    scores = bleu(refs, hyps)
    result = {"BLEU-%d" % (k + 1): float(s) for k, s in enumerate(scores)}
    result["CIDEr-D"] = cider_d(refs, hyps)
    result["num_images"] = int(image_ids.size)
    if return_captions:
        result["captions"] = hyps
    return result
