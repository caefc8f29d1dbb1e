"""CS231n's published notebook numbers, reproduced exactly (facts from the assignment, not our output)."""
import numpy as np
import pytest

from rnncap.classifiers.rnn import CaptioningRNN


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("cell_type, feature_range, expected_loss", [
    ("rnn", (-1.5, 0.3), 9.83235591003),   # RNN_Captioning.ipynb, "CaptioningRNN" check
    ("lstm", (-0.5, 1.7), 9.82445935443),  # LSTM_Captioning.ipynb, "LSTM captioning model" check
])
def test_captioning_loss_matches_the_published_value(cell_type, feature_range, expected_loss,
                                                     fast):
    N, D, W, H = 10, 20, 30, 40
    word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
    V = len(word_to_idx)
    T = 13
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H,
                          cell_type=cell_type, dtype=np.float64, fast=fast)
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    features = np.linspace(*feature_range, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)
    loss, grads = model.loss(features, captions)
    assert abs(loss - expected_loss) < 1e-10
    assert set(grads) == set(model.params)
