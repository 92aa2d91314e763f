"""Metrics of clips without a prediction: a clip a model could not see is wrong in the accuracy, a
miss of its true class in the recalls and UAR, and counted in the confusion matrix's last column,
"no prediction" (7 x 8), never as a class."""
from __future__ import annotations

import math

import numpy as np
import pytest

from avemotion.metrics import (
    CONFUSION_COLUMNS,
    NO_PREDICTION,
    accuracy,
    bootstrap_confidence_intervals,
    bootstrap_difference_intervals,
    bootstrap_unpaired_difference_intervals,
    confusion_matrix,
    confusion_percent,
    label_indices,
    per_class_recall,
    predicted_index,
    predicted_indices,
    summarize,
    unweighted_average_recall,
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


def test_labels_map_to_class_indices_and_an_unknown_label_is_named():
    assert label_indices(["AN", "SU", "NE"]).tolist() == [0, 6, 4]
    assert label_indices([]).tolist() == []
    with pytest.raises(ValueError, match="unknown class label 'calm'"):
        label_indices(["AN", "calm"])


def test_confusion_counts_each_clip_once_in_its_true_row():
    confusion = confusion_matrix(np.array([2, 2, 0]), np.array([2, 1, NO_PREDICTION]), n_classes=3)
    assert confusion.tolist() == [[0, 0, 0, 1], [0, 0, 0, 0], [0, 1, 1, 0]]
    assert confusion_matrix(np.array([], dtype=int), np.array([], dtype=int)).shape == (7, 8)


def test_empty_splits_and_absent_classes_have_no_value_instead_of_zero():
    empty = confusion_matrix(np.array([], dtype=int), np.array([], dtype=int))
    assert math.isnan(accuracy(empty)) and math.isnan(unweighted_average_recall(empty))
    assert np.isnan(per_class_recall(empty)).all()
    assert confusion_percent(empty).tolist() == np.zeros((7, 8)).tolist()
    summary = summarize(np.array([1, 1]), np.array([1, 0]))
    assert summary["per_class_recall"]["DI"] == 0.5 and summary["per_class_recall"]["AN"] is None
    assert summary["uar"] == 0.5  # the mean over the one class present, not over all seven
    assert summary["accuracy"] == 0.5 and summary["n"] == 2 and summary["n_no_prediction"] == 0
    percent = confusion_percent(confusion_matrix(np.array([1, 1]), np.array([1, 0])))
    assert percent[1].tolist() == [50, 50, 0, 0, 0, 0, 0, 0] and percent[0].sum() == 0


def corpus(n_clips=40, seed=3):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 7, n_clips)
    predicted = np.where(rng.random(n_clips) < 0.6, true, rng.integers(0, 7, n_clips))
    predicted[rng.random(n_clips) < 0.1] = NO_PREDICTION
    return true, predicted


def resampled_scores(true, predicted, resample):
    """accuracy and UAR of each resample, scored with `summarize` itself"""
    scores = [summarize(true[index], predicted[index]) for index in resample]
    return np.array([s["accuracy"] for s in scores]), np.array([s["uar"] for s in scores])


def test_bootstrap_is_the_percentile_interval_of_the_clip_resamples():
    true, predicted = corpus()
    resample = np.random.default_rng(5).integers(0, len(true), size=(200, len(true)))  # the seed's resamples
    accuracies, uars = resampled_scores(true, predicted, resample)
    intervals = bootstrap_confidence_intervals(true, predicted, n_resamples=200, seed=5, confidence=0.9)
    assert intervals["accuracy"] == pytest.approx(tuple(np.percentile(accuracies, [5, 95])))
    assert intervals["uar"] == pytest.approx(tuple(np.percentile(uars, [5, 95])))
    # resampled a few at a time (bounded memory): the same resamples, the same intervals
    assert bootstrap_confidence_intervals(true, predicted, n_resamples=200, seed=5, confidence=0.9,
                                          max_cells=3 * 7 * len(true)) == intervals
    assert bootstrap_confidence_intervals(true, predicted, n_resamples=200, seed=6, confidence=0.9) != intervals


def test_bootstrap_of_no_clips_or_no_resamples_has_no_interval():
    for true, n_resamples in ((np.array([], dtype=int), 100), (np.arange(7), 0)):
        intervals = bootstrap_confidence_intervals(true, true, n_resamples=n_resamples)
        assert all(math.isnan(v) for pair in intervals.values() for v in pair)
        differences = bootstrap_difference_intervals(true, true, true, n_resamples=n_resamples)
        assert all(math.isnan(v) for pair in differences.values() for v in pair)


def test_paired_bootstrap_scores_both_predictions_on_the_same_resamples():
    true, predicted_a = corpus()
    predicted_b = np.where(np.arange(len(true)) % 3 == 0, NO_PREDICTION, true)
    resample = np.random.default_rng(2).integers(0, len(true), size=(150, len(true)))
    accuracy_a, uar_a = resampled_scores(true, predicted_a, resample)
    accuracy_b, uar_b = resampled_scores(true, predicted_b, resample)
    differences = bootstrap_difference_intervals(true, predicted_a, predicted_b, n_resamples=150, seed=2,
                                                 confidence=0.8)
    assert differences["accuracy"] == pytest.approx(tuple(np.percentile(accuracy_a - accuracy_b, [10, 90])))
    assert differences["uar"] == pytest.approx(tuple(np.percentile(uar_a - uar_b, [10, 90])))
    same = bootstrap_difference_intervals(true, predicted_a, predicted_a, n_resamples=50)
    assert same == {"accuracy": (0.0, 0.0), "uar": (0.0, 0.0)}


def test_unpaired_bootstrap_resamples_the_two_clip_sets_independently():
    true_a, predicted_a = corpus(n_clips=40, seed=3)
    true_b, predicted_b = corpus(n_clips=25, seed=4)
    rng = np.random.default_rng(7)  # the seed's resamples: A's, then B's
    resample_a = rng.integers(0, len(true_a), size=(120, len(true_a)))
    resample_b = rng.integers(0, len(true_b), size=(120, len(true_b)))
    accuracy_a, uar_a = resampled_scores(true_a, predicted_a, resample_a)
    accuracy_b, uar_b = resampled_scores(true_b, predicted_b, resample_b)
    differences = bootstrap_unpaired_difference_intervals(true_a, predicted_a, true_b, predicted_b, n_resamples=120,
                                                          seed=7, confidence=0.8)
    assert differences["accuracy"] == pytest.approx(tuple(np.percentile(accuracy_a - accuracy_b, [10, 90])))
    assert differences["uar"] == pytest.approx(tuple(np.percentile(uar_a - uar_b, [10, 90])))
    again = bootstrap_unpaired_difference_intervals(true_a, predicted_a, true_b, predicted_b, n_resamples=120,
                                                    seed=7, confidence=0.8, max_cells=3 * 7 * len(true_a))
    assert again == differences  # resampled a few at a time: the same resamples
    assert bootstrap_unpaired_difference_intervals(true_a, predicted_a, true_b, predicted_b, n_resamples=120,
                                                   seed=8, confidence=0.8) != differences


def test_unpaired_bootstrap_contains_the_difference_and_narrows_with_more_clips():
    rng = np.random.default_rng(5)
    widths = []
    for n in (60, 960):
        true_a = rng.integers(0, 7, n)
        predicted_a = np.where(rng.random(n) < 0.7, true_a, (true_a + 1) % 7)
        true_b = rng.integers(0, 6, n)  # no SU
        predicted_b = np.where(rng.random(n) < 0.4, true_b, NO_PREDICTION)
        intervals = bootstrap_unpaired_difference_intervals(true_a, predicted_a, true_b, predicted_b, n_resamples=500)
        for metric, score in (("accuracy", accuracy), ("uar", unweighted_average_recall)):
            difference = score(confusion_matrix(true_a, predicted_a)) - score(confusion_matrix(true_b, predicted_b))
            low, high = intervals[metric]
            assert low < difference < high, (n, metric)
        widths.append(intervals["accuracy"][1] - intervals["accuracy"][0])
    assert widths[1] < widths[0] / 2  # 16x the clips: ~1/4 the width


def test_unpaired_bootstrap_of_one_clip_set_against_itself_straddles_zero():
    true, predicted = corpus(n_clips=80)
    same = bootstrap_unpaired_difference_intervals(true, predicted, true, predicted, n_resamples=400)
    for low, high in same.values():
        assert low < 0 < high and abs(low + high) < 0.5 * (high - low)  # two independent noises around 0
    # a set without SU, scored perfectly, has UAR 1 over its own six classes in every resample
    seven, six = np.arange(7).repeat(3), np.arange(6).repeat(3)
    assert bootstrap_unpaired_difference_intervals(seven, seven, six, six, n_resamples=50) == {
        "accuracy": (0.0, 0.0), "uar": (0.0, 0.0)}
    for empty_a, empty_b in ((np.array([], dtype=int), true), (true, np.array([], dtype=int))):
        nothing = bootstrap_unpaired_difference_intervals(empty_a, empty_a, empty_b, empty_b)
        assert all(math.isnan(v) for pair in nothing.values() for v in pair)


def test_a_class_with_one_clip_is_a_whole_row_in_percent():
    percent = confusion_percent(confusion_matrix(np.array([3, 5, 5]), np.array([3, 5, 2])))
    assert percent[3, 3] == 100.0 and percent[5, 5] == 50.0 and percent[5, 2] == 50.0


def test_bootstrap_defaults_and_its_smallest_cases():
    true, predicted = corpus()
    assert bootstrap_confidence_intervals(true, predicted) == bootstrap_confidence_intervals(
        true, predicted, n_resamples=1000, seed=0, confidence=0.95)  # the documented defaults
    assert bootstrap_difference_intervals(true, predicted, true) == bootstrap_difference_intervals(
        true, predicted, true, n_resamples=1000, seed=0, confidence=0.95)
    one = bootstrap_confidence_intervals(true, predicted, n_resamples=1)  # one resample: a point, not nothing
    assert set(one) == {"accuracy", "uar"} and one["accuracy"][0] == one["accuracy"][1] and 0 <= one["uar"][0] <= 1
    one = bootstrap_difference_intervals(true, predicted, true, n_resamples=1)
    assert set(one) == {"accuracy", "uar"} and one["accuracy"][0] == one["accuracy"][1] <= 0
    for nothing in (bootstrap_confidence_intervals(true, predicted, n_resamples=0),
                    bootstrap_difference_intervals(true, predicted, true, n_resamples=0)):
        assert set(nothing) == {"accuracy", "uar"}
