"""BLEU / CIDEr-D / evaluate_model: hand-computed cases, properties, bad input.

Expected numbers are worked out by hand in the comments, from the coco-caption definitions:
BLEU precisions are smoothed as (matches + TINY) / (total + SMALL); CIDEr-D idf is
log(N_images) - log(max(1, df)). The optional last test compares with pycocoevalcap itself.
"""
import contextlib
import io
import math

import numpy as np
import pytest

from rnncap.metrics import bleu, cider_d, evaluate_model

TINY, SMALL = 1e-15, 1e-9  # the toolkit's published smoothing constants
P1 = math.exp(-1.0 / 72)   # CIDEr-D length penalty for a 1-word length difference, sigma = 6


def smoothed(correct, total):
    return (correct + TINY) / (total + SMALL)


def bleu_from_counts(correct, guess, hyp_len, ref_len):
    """BLEU-1..4 from hand-counted corpus totals (the published formula, written out)."""
    scores, product = [], 1.0
    for k in range(4):
        product *= smoothed(correct[k], guess[k])
        scores.append(product ** (1.0 / (k + 1)))
    ratio = (hyp_len + TINY) / (ref_len + SMALL)
    penalty = math.exp(1 - 1 / ratio) if ratio < 1 else 1.0
    return [s * penalty for s in scores]


# ---------------------------------------------------------------- BLEU, by hand

def test_bleu_hand_example_two_references():
    refs = {"img": ["the cat is on the mat", "there is a cat on the mat"]}
    hyps = {"img": "the cat sat on the mat"}
    # unigrams: the x2 (max ref count 2), cat, sat (0), on, mat -> 5 of 6
    # bigrams: the cat, on the, the mat match; cat sat, sat on do not -> 3 of 5
    # trigrams: only "on the mat" -> 1 of 4; 4-grams: none of 3
    # closest reference length to 6 is 6 -> BP ~ 1 (only the TINY/SMALL offsets)
    # so BLEU-1 ~ 5/6, BLEU-2 ~ sqrt(5/6 * 3/5) = sqrt(1/2), BLEU-3 ~ (1/8)^(1/3) = 1/2
    expected = bleu_from_counts([5, 3, 1, 0], [6, 5, 4, 3], 6, 6)
    np.testing.assert_allclose(bleu(refs, hyps), expected, rtol=1e-12)
    np.testing.assert_allclose(expected[:3], [5 / 6, math.sqrt(0.5), 0.5], rtol=1e-8)
    assert expected[3] < 1e-4  # no 4-gram match: tiny, not exactly zero (coco smoothing)


def test_bleu_closest_reference_tie_goes_to_shorter():
    # hypothesis length 2; references of length 3 and 1 are both 1 away -> r = 1, no penalty
    # (choosing 3 would give BP = exp(1 - 3/2)). Matches: 2/2 unigrams, 1/1 bigram,
    # and 0/0 trigrams and 4-grams, which the smoothing turns into TINY/SMALL = 1e-6 each:
    # BLEU-3 = (1 * 1 * 1e-6)^(1/3) = 1e-2, BLEU-4 = (1e-6 * 1e-6)^(1/4) = 1e-3.
    scores = bleu({0: ["a b c", "a"]}, {0: "a b"})
    np.testing.assert_allclose(scores, [1.0, 1.0, 1e-2, 1e-3], rtol=1e-8)


def test_bleu_brevity_penalty():
    # c = 2, r = 6: every n-gram of "the cat" matches, BP = exp(1 - 6/2) = e^-2
    scores = bleu({0: ["the cat sat on the mat"]}, {0: "the cat"})
    np.testing.assert_allclose(scores[:2], [math.exp(-2), math.exp(-2)], rtol=1e-8)


def test_bleu_clipping_uses_max_count_in_one_reference():
    # "the" appears 1x in the first reference and 2x in the second: clip 4 -> 2, BLEU-1 = 2/4.
    # (summing over references would give 3). r = 3 (closest to 4), c = 4: no penalty.
    scores = bleu({0: ["the cat", "the the dog"]}, {0: "the the the the"})
    np.testing.assert_allclose(scores[0], 0.5, rtol=1e-8)
    # bigram "the the": 3 in the hypothesis, max 1 in a reference -> BLEU-2 = sqrt(2/4 * 1/3)
    np.testing.assert_allclose(scores[1], math.sqrt(0.5 / 3), rtol=1e-8)


def test_bleu_sums_counts_over_the_corpus():
    # image 1 matches 4/4 unigrams, image 2 0/2: corpus BLEU-1 = 4/6, not the mean (1 + 0)/2
    refs = {1: ["a b c d"], 2: ["z w"]}
    hyps = {1: "a b c d", 2: "x y"}
    np.testing.assert_allclose(bleu(refs, hyps)[0], 4 / 6, rtol=1e-8)


def test_bleu_perfect_match_is_one(rng):
    vocab = ["w%d" % i for i in range(20)]
    refs, hyps = {}, {}
    for i in range(30):
        hyps[i] = " ".join(rng.choice(vocab, size=rng.integers(4, 12)))
        refs[i] = [" ".join(rng.choice(vocab, size=5)), hyps[i]]
    np.testing.assert_allclose(bleu(refs, hyps), [1.0] * 4, atol=1e-8)


def test_bleu_properties_bounds_order_and_list_form(rng):
    vocab = ["a", "b", "c", "d", "e"]
    refs = {i: [" ".join(rng.choice(vocab, size=6)) for _ in range(3)] for i in range(20)}
    hyps = {i: " ".join(rng.choice(vocab, size=rng.integers(1, 9))) for i in range(20)}
    scores = bleu(refs, hyps)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)  # each adds a precision <= 1 to the product
    reversed_ids = list(refs)[::-1]
    assert bleu({i: refs[i] for i in reversed_ids}, {i: hyps[i] for i in reversed_ids}) == scores
    assert bleu(refs, {i: [h] for i, h in hyps.items()}) == scores  # coco's [caption] form


# ---------------------------------------------------------------- CIDEr-D, by hand

def test_cider_d_hand_example_three_images():
    refs = {"A": ["a b", "a c"], "B": ["a d"], "C": ["e f"]}
    hyps = {"A": "a b", "B": "d d", "C": "e"}
    # N = 3 images. df: "a" is in the references of A and B (2); every other n-gram in 1.
    u = math.log(3)          # idf of df = 1 n-grams (and of n-grams absent from all refs)
    v = math.log(3 / 2)      # idf of "a"
    # A vs "a b": identical -> cosine 1 for n = 1, 2; no 3/4-grams -> 0.
    # A vs "a c": unigram dot v*v over norms sqrt(v^2+u^2)^2; bigram 0.
    score_a = 10 * ((1 + 1) + v * v / (v * v + u * u)) / 4 / 2
    # B: "d d" has tf-idf d = 2u, clipped to the reference weight u: min(2u, u) * u = u^2,
    # over norms 2u * sqrt(v^2 + u^2). Bigram "d d" is not in the reference -> 0.
    score_b = 10 * (u * u / (2 * u * math.sqrt(v * v + u * u))) / 4 / 1
    # C: "e" vs "e f": unigram cosine u^2 / (u * sqrt(2) u) = 1/sqrt(2); lengths 1 vs 2 -> P1.
    score_c = 10 * (P1 / math.sqrt(2)) / 4
    expected = (score_a + score_b + score_c) / 3
    assert abs(cider_d(refs, hyps) - expected) < 1e-12
    assert abs(expected - 1.855306) < 1e-6  # the number itself, for the record


def test_cider_d_single_image_is_zero():
    # N = 1: idf = log 1 - log 1 = 0 for every reference n-gram -> all weights vanish
    assert cider_d({0: ["a red circle"]}, {0: "a red circle"}) == 0.0


def test_cider_d_perfect_match_with_unique_ngrams_is_ten():
    # every n-gram occurs in one image only and captions have >= 4 words:
    # cosine 1 for n = 1..4, no length penalty -> 10 * mean(1, 1, 1, 1)
    refs = {0: ["a b c d"], 1: ["e f g h i"], 2: ["j k l m"]}
    hyps = {i: r[0] for i, r in refs.items()}
    assert abs(cider_d(refs, hyps) - 10.0) < 1e-12


def test_cider_d_no_overlap_is_zero():
    refs = {0: ["a b c"], 1: ["d e f"]}
    assert cider_d(refs, {0: "x y z", 1: "u v w"}) == 0.0


# ---------------------------------------------------------------- empty hypotheses

def test_empty_hypothesis_scores_zero_and_counts_for_brevity():
    refs = {1: ["a b c d"], 2: ["x y z w"]}
    hyps = {1: "a b c d", 2: ""}
    # BLEU: every n-gram of image 1 matches; c = 4, r = 4 + 4 -> BP = exp(1 - 8/4) = e^-1
    np.testing.assert_allclose(bleu(refs, hyps), [math.exp(-1)] * 4, rtol=1e-8)
    # CIDEr-D: image 1 is a perfect match of unique n-grams (10), image 2 scores 0 -> 5
    assert abs(cider_d(refs, hyps) - 5.0) < 1e-12


def test_all_hypotheses_empty_score_zero():
    refs = {1: ["a b"], 2: ["c d"]}
    hyps = {1: "", 2: "   "}
    assert bleu(refs, hyps) == [0.0] * 4
    assert cider_d(refs, hyps) == 0.0


# ---------------------------------------------------------------- bad input

BAD_INPUTS = [
    ([["a b"]], {0: "a b"}, "refs must be a dict"),
    ({0: ["a b"]}, "a b", "hyps must be a dict"),
    ({}, {}, "refs is empty"),
    ({0: ["a b"], 1: ["c"]}, {0: "a b", 2: "c"}, "same image ids"),
    ({0: ["a b"]}, {0: 7}, r"hyps\[0\] must be one caption string"),
    ({0: ["a b"]}, {0: None}, r"hyps\[0\] must be one caption string"),
    ({0: ["a b"]}, {0: ["a", "b"]}, r"hyps\[0\] must be one caption string"),
    ({0: "a b"}, {0: "a b"}, r"refs\[0\] must be a list"),
    ({0: []}, {0: "a b"}, r"refs\[0\] is an empty list"),
    ({0: ["a b", 3]}, {0: "a b"}, r"refs\[0\]\[1\] must be a caption string"),
]


@pytest.mark.parametrize("metric", [bleu, cider_d])
@pytest.mark.parametrize("refs,hyps,message", BAD_INPUTS)
def test_bad_input_raises_clear_value_error(metric, refs, hyps, message):
    with pytest.raises(ValueError, match=message):
        metric(refs, hyps)


# ---------------------------------------------------------------- evaluate_model

VOCAB = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "red", "circle", "blue", "square", "big"]
W = {w: i for i, w in enumerate(VOCAB)}


def encode(words, length):
    ids = [W[w] for w in words.split()]
    return ids + [W["<NULL>"]] * (length - len(ids))


class FakeModel:
    """Returns fixed captions; feature row i is [i, i, i], so it knows which image it sees."""

    captions = {0: "a blue square <END>", 2: "a red circle <END> big",  # junk after <END>
                5: "a red square <END>"}

    def __init__(self):
        self.idx_to_word = dict(enumerate(VOCAB))
        self.word_to_idx = dict(W)
        self.calls = []

    def sample(self, features, max_length=30, beam_size=None):
        self.calls.append((np.array(features), max_length, beam_size))
        rows = [encode(self.captions[int(f[0])], max_length) for f in features]
        return np.array(rows, dtype=np.int64)


class LazyFeatures:
    """Stands in for an h5py dataset: only fancy indexing with sorted unique indices."""

    def __init__(self, array):
        self.array, self.shape, self.requests = array, array.shape, []

    def __getitem__(self, idx):
        idx = np.asarray(idx)
        assert idx.ndim == 1 and np.all(np.diff(idx) > 0), "indices must be sorted, unique"
        self.requests.append(idx.tolist())
        return self.array[idx]


def make_data(features=None):
    rows = ["<START> a red circle <END>",        # image 2
            "<START> a blue square <END>",       # image 0
            "<START> a big red circle <END>",    # image 2
            "<START> a blue <UNK> <END> <NULL>",  # image 0 (<UNK> stays a word)
            "<START> big square <END>"]          # image 5
    if features is None:
        features = np.repeat(np.arange(6, dtype=np.float32)[:, None], 3, axis=1)
    return {"val_captions": np.array([encode(r, 7) for r in rows]),
            "val_image_idxs": np.array([2, 0, 2, 0, 5]),
            "val_features": features,
            "idx_to_word": list(VOCAB), "word_to_idx": dict(W)}


def test_evaluate_model_hand_computed():
    state = np.random.get_state()
    model = FakeModel()
    result = evaluate_model(model, make_data(), split="val", max_length=8)
    # refs 0: "a blue square", "a blue <UNK>"; 2: "a red circle", "a big red circle";
    #      5: "big square". hyps 0: "a blue square", 2: "a red circle", 5: "a red square".
    # BLEU: unigrams 3 + 3 + 1 ("square") = 7 of 9; bigrams 2 + 2 + 0 = 4 of 6;
    # trigrams 1 + 1 + 0 = 2 of 3; no 4-grams. c = 9, r = 3 + 3 + 2 = 8: no penalty.
    expected = bleu_from_counts([7, 4, 2, 0], [9, 6, 3, 0], 9, 8)
    for k in range(4):
        assert abs(result["BLEU-%d" % (k + 1)] - expected[k]) < 1e-12
    # CIDEr-D, N = 3. df 2: "a", "square", "big"; every other reference n-gram df 1.
    u, v = math.log(3), math.log(3 / 2)
    # image 0 vs "a blue square": identical -> 1, 1, 1 for n = 1..3.
    # vs "a blue <UNK>": unigram dot v^2 + u^2 over sqrt(2v^2+u^2) sqrt(v^2+2u^2);
    # bigram "a blue" u^2 over (sqrt2 u)^2 = 1/2; trigram 0.
    d0 = (v * v + u * u) / (math.sqrt(2 * v * v + u * u) * math.sqrt(v * v + 2 * u * u))
    score0 = 10 * (3 + d0 + 0.5) / 4 / 2
    # image 2 vs "a red circle": 1, 1, 1. vs "a big red circle" (4 words: penalty P1):
    # unigram (v^2 + 2u^2) / (sqrt(v^2+2u^2) sqrt(2v^2+2u^2)); bigram "red circle"
    # u^2 / (sqrt2 u * sqrt3 u) = 1/sqrt6; no shared trigram.
    d2 = math.sqrt(v * v + 2 * u * u) / math.sqrt(2 * v * v + 2 * u * u)
    score2 = 10 * (3 + P1 * (d2 + 1 / math.sqrt(6))) / 4 / 2
    # image 5, "a red square" vs "big square" (penalty P1): only "square" (weight v) shared:
    # v^2 / (sqrt(2v^2+u^2) * sqrt2 v).
    score5 = 10 * P1 * (v / (math.sqrt(2 * v * v + u * u) * math.sqrt(2))) / 4
    assert abs(result["CIDEr-D"] - (score0 + score2 + score5) / 3) < 1e-12
    assert result["num_images"] == 3
    assert set(result) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr-D", "num_images"}
    # greedy: one call, images 0, 2, 5 in increasing order, max_length passed, no beam
    (features, max_length, beam_size), = model.calls
    assert features[:, 0].tolist() == [0, 2, 5] and max_length == 8 and beam_size is None
    assert all(np.array_equal(a, b) for a, b in zip(state, np.random.get_state()))


def test_evaluate_model_batches_beam_and_lazy_features():
    features = LazyFeatures(np.repeat(np.arange(6, dtype=np.float32)[:, None], 3, axis=1))
    greedy = evaluate_model(FakeModel(), make_data(), max_length=8)
    model = FakeModel()
    beam = evaluate_model(model, make_data(features), decode="beam", beam_size=4,
                          max_length=8, batch_size=2)
    assert beam == greedy  # the fake model ignores beam_size: same captions, same scores
    assert features.requests == [[0, 2], [5]]
    assert [(c[1], c[2]) for c in model.calls] == [(8, 4), (8, 4)]


def test_evaluate_model_num_images_takes_first_unique_images():
    model = FakeModel()
    result = evaluate_model(model, make_data(), num_images=2, max_length=8)
    assert result["num_images"] == 2
    assert model.calls[0][0][:, 0].tolist() == [0, 2]
    # images 0 and 2 are exact matches of a reference: BLEU-1..3 ~ 1, BLEU-4 has no 4-grams
    np.testing.assert_allclose([result["BLEU-%d" % k] for k in (1, 2, 3)], 1.0, atol=1e-8)
    assert evaluate_model(FakeModel(), make_data(), num_images=99)["num_images"] == 3


@pytest.mark.parametrize("kwargs,message", [
    ({"split": "test"}, "test_captions"),
    ({"decode": "sample"}, "decode must be 'greedy' or 'beam'"),
    ({"num_images": 0}, "num_images must be a positive integer"),
    ({"beam_size": 0, "decode": "beam"}, "beam_size must be a positive integer"),
    ({"max_length": 2.5}, "max_length must be a positive integer"),
    ({"batch_size": -1}, "batch_size must be a positive integer"),
])
def test_evaluate_model_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluate_model(FakeModel(), make_data(), **kwargs)


def test_evaluate_model_bad_model_output():
    class Short(FakeModel):
        def sample(self, features, max_length=30, beam_size=None):
            return super().sample(features, max_length)[:1]  # one row for three images

    class OutOfVocab(FakeModel):
        def sample(self, features, max_length=30, beam_size=None):
            return np.full((len(features), max_length), 99)

    with pytest.raises(ValueError, match="model.sample output must have shape"):
        evaluate_model(Short(), make_data())
    with pytest.raises(ValueError, match="word index 99"):
        evaluate_model(OutOfVocab(), make_data())


def test_evaluate_model_bad_data():
    data = make_data()
    data["val_image_idxs"] = np.array([2, 0, 2, 0, 9])  # image 9 has no feature row
    with pytest.raises(ValueError, match=r"val_image_idxs'\] values must lie in \[0, 6\)"):
        evaluate_model(FakeModel(), data)
    with pytest.raises(ValueError, match="data must be a dict"):
        evaluate_model(FakeModel(), [1, 2])


# ---------------------------------------------------------------- the reference toolkit

def test_matches_pycocoevalcap_on_random_captions(rng):
    pytest.importorskip("pycocoevalcap")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    vocab = ["w%d" % i for i in range(12)]

    def caption(low, high):
        return " ".join(rng.choice(vocab, size=rng.integers(low, high)))

    for trial in range(3):
        refs = {i: [caption(1, 13) for _ in range(rng.integers(1, 6))] for i in range(300)}
        # a mix of unrelated captions, edited references (high overlap) and edge cases
        hyps = {}
        for i in refs:
            kind = i % 4
            if kind == 0:
                hyps[i] = caption(0, 13)
            elif kind in (1, 2):
                words = refs[i][0].split()
                words[rng.integers(len(words))] = rng.choice(vocab)
                hyps[i] = " ".join(words)
            else:
                hyps[i] = caption(0, 2)  # empty or one word
        with contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its counts
            want_bleu, _ = Bleu(4).compute_score(refs, {i: [h] for i, h in hyps.items()})
            want_cider, _ = Cider().compute_score(refs, {i: [h] for i, h in hyps.items()})
        np.testing.assert_allclose(bleu(refs, hyps), want_bleu, rtol=0, atol=1e-6)
        assert abs(cider_d(refs, hyps) - want_cider) < 1e-6
