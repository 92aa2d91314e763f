"""Metrics of clips without a prediction: a clip a model could not see is wrong in the accuracy, a
miss of its true class in the recalls and UAR, and counted in the confusion matrix's last column,
"no prediction" (7 x 8), never as a class."""
from __future__ import annotations

import numpy as np
import pytest

from avemotion.metrics import (
    CONFUSION_COLUMNS,
    NO_PREDICTION,
    bootstrap_confidence_intervals,
    confusion_matrix,
    confusion_percent,
    predicted_index,
    predicted_indices,
    summarize,
)


def test_a_row_without_probabilities_is_no_prediction():
    assert predicted_index(None) == NO_PREDICTION
    assert predicted_index(np.array([0.1, 0.6, 0.3, 0, 0, 0, 0])) == 1
    assert predicted_indices([None, np.eye(7)[4]]).tolist() == [NO_PREDICTION, 4]


def test_no_prediction_is_a_miss_in_its_own_column():
    # true:      AN AN AN DI DI HA
    # predicted: AN -  -  DI HA HA   (two AN clips without prediction)
    true = np.array([0, 0, 0, 1, 1, 3])
    predicted = np.array([0, NO_PREDICTION, NO_PREDICTION, 1, 3, 3])
    summary = summarize(true, predicted)
    assert summary["confusion_columns"] == list(CONFUSION_COLUMNS) and CONFUSION_COLUMNS[-1] == "no prediction"
    assert np.array(summary["confusion"]).shape == (7, 8)
    assert summary["confusion"][0] == [1, 0, 0, 0, 0, 0, 0, 2]  # never counted as AN
    assert summary["n"] == 6 and summary["n_no_prediction"] == 2
    assert summary["accuracy"] == pytest.approx(3 / 6)
    assert summary["per_class_recall"]["AN"] == pytest.approx(1 / 3)
    assert summary["uar"] == pytest.approx((1 / 3 + 1 / 2 + 1) / 3)
    assert confusion_percent(confusion_matrix(true, predicted))[0].tolist() == pytest.approx(
        [100 / 3, 0, 0, 0, 0, 0, 0, 200 / 3])


def test_a_uniform_row_instead_of_no_prediction_would_inflate_an_recall():
    """Why a clip without input gets no prediction rather than uniform 1/7 probabilities: their
    argmax is AN, so AN clips without input would count as hits."""
    true = np.array([0, 0, 1])
    uniform_argmax = np.array([int(np.argmax(np.full(7, 1 / 7)))] * 3)
    assert summarize(true, uniform_argmax)["per_class_recall"]["AN"] == 1.0
    assert summarize(true, np.full(3, NO_PREDICTION))["per_class_recall"]["AN"] == 0.0


def test_bootstrap_counts_no_prediction_as_wrong():
    true = np.arange(7)
    assert bootstrap_confidence_intervals(true, np.full(7, NO_PREDICTION), n_resamples=50)["accuracy"] == (0.0, 0.0)
