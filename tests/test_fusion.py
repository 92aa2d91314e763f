"""Decision fusion (paper 3.2): simplex grid, known optima, tie rules, artifacts, refit mode, and
clips some or all models cannot see (fused over the models that saw them; no model: a miss)."""
from __future__ import annotations

import json
import logging
import math
import warnings

import numpy as np
import pytest

from avemotion.artifacts import read_predictions, write_predictions
from avemotion.constants import CLASSES
from avemotion.fusion import (
    align_predictions,
    choose_weights,
    clip_weights,
    evaluate_grid,
    fuse_probabilities,
    fused_classes,
    fused_rows,
    fusion_note,
    grid_resolution,
    grid_search_weights,
    run_fusion,
    simplex_grid,
    split_metrics,
)
from avemotion.metrics import NO_PREDICTION, label_indices

MODELS = ("vgg_lstm_a", "vgg_lstm_b", "audio_svm", "audio_lstm", "inception_lstm")


def one_hot_probs(classes, confidence=0.9):
    """Probabilities peaked on the given class indices."""
    probs = np.full((len(classes), 7), (1 - confidence) / 6)
    probs[np.arange(len(classes)), classes] = confidence
    return probs


def rows_for(model_probs, labels, splits, clip_ids=None):
    clip_ids = clip_ids or [f"clip{i:03d}" for i in range(len(labels))]
    return [
        {"clip_id": c, "split": s, "label": l, "probs": p, "status": "ok", "reason": ""}
        for c, s, l, p in zip(clip_ids, splits, labels, model_probs)
    ]


def test_simplex_grid_has_every_point_once():
    grid = simplex_grid(5, 0.05)
    assert grid.shape == (10626, 5) == (math.comb(24, 4), 5)
    assert (grid.sum(axis=1) == 20).all() and (grid >= 0).all()
    assert len(np.unique(grid, axis=0)) == len(grid)
    assert simplex_grid(1, 0.25).tolist() == [[4]]
    assert sorted(map(tuple, simplex_grid(2, 0.5))) == [(0, 2), (1, 1), (2, 0)]


@pytest.mark.parametrize("step", [0.0, -0.1, 0.3, 1.5])
def test_grid_step_must_divide_one(step):
    with pytest.raises(ValueError):
        grid_resolution(step)


def renormalised_prediction(w, probs, seen):
    """One clip by hand: weights renormalised over the models that saw it, equal weights when they
    all have weight 0, NO_PREDICTION when none did."""
    available = np.flatnonzero(seen)
    if len(available) == 0:
        return NO_PREDICTION
    total = w[available].sum()
    used = w[available] / total if total > 0 else np.full(len(available), 1 / len(available))
    return int(np.argmax(sum(u * probs[m] for u, m in zip(used, available))))


def test_evaluate_grid_matches_direct_fusion():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(7), size=(3, 40))
    seen = rng.random((3, 40)) > 0.3
    seen[:, 0] = False  # no model saw clip 0
    seen[:, 1] = [True, False, False]  # only model 0 saw clip 1: weight 0 there means equal weights
    probs[~seen] = np.nan
    true = rng.integers(0, 7, 40)
    weights = simplex_grid(3, 0.25) / 4
    correct, uars = evaluate_grid(weights, probs, seen, true)
    for w, c, u in zip(weights, correct, uars):
        predicted = np.array([renormalised_prediction(w, probs[:, n], seen[:, n]) for n in range(40)])
        assert predicted[0] == NO_PREDICTION and predicted[1] == probs[0, 1].argmax()
        assert c == (predicted == true).sum()
        recalls = [np.mean(predicted[true == k] == k) for k in np.unique(true)]
        assert u == pytest.approx(np.mean(recalls))


def test_fusion_of_one_clip_is_the_same_alone_and_in_a_batch():
    """The grid search, the pipeline's rows and predict fuse a clip bit for bit the same."""
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(7), size=(5, 30))
    seen = rng.random((5, 30)) > 0.4
    grid = simplex_grid(5, 0.25) / 4
    batch = fuse_probabilities(probs, seen, grid)
    for p in (0, 17, len(grid) - 1):
        together = fuse_probabilities(probs, seen, grid[p])
        assert np.array_equal(batch[p], together, equal_nan=True)
        for n in (0, 11, 29):
            alone = fuse_probabilities(probs[:, n:n + 1], seen[:, n:n + 1], grid[p])[0]
            assert np.array_equal(alone, together[n], equal_nan=True)


def test_grid_search_agrees_with_brute_force():
    """On random probabilities the search returns a weight vector with the grid's best accuracy."""
    rng = np.random.default_rng(5)
    true = np.arange(40) % 7
    probs = rng.dirichlet(np.ones(7) * 0.5, size=(3, 40))
    labels = [CLASSES[k] for k in true]
    tables = {m: rows_for(probs[i], labels, ["val"] * 40) for i, m in enumerate(MODELS[:3])}
    result = grid_search_weights(align_predictions(tables), 0.05)
    best_correct = max(
        (np.einsum("m,mnc->nc", w, probs).argmax(axis=1) == true).sum() for w in simplex_grid(3, 0.05) / 20
    )
    assert result.val_accuracy == pytest.approx(best_correct / 40)
    fused = np.einsum("m,mnc->nc", result.weights, probs).argmax(axis=1)
    assert (fused == true).sum() == best_correct
    assert result.weights.sum() == pytest.approx(1.0)


def test_grid_search_needs_two_models_to_reach_the_optimum():
    """Each model alone classifies 5 of 10 clips; an equal-ish mixture gets all 10."""
    true = np.array([0, 1, 2, 3, 4, 5, 6, 0, 1, 2])
    other = (true + 3) % 7
    p_a = np.full((10, 7), 0.0); p_b = np.full((10, 7), 0.0)
    for i in range(10):
        if i < 5:   # model A right (0.7 vs 0.3), model B wrong but unsure (0.45 vs 0.55)
            p_a[i, true[i]], p_a[i, other[i]] = 0.7, 0.3
            p_b[i, true[i]], p_b[i, other[i]] = 0.45, 0.55
        else:       # model B right (0.7), model A wrong but unsure
            p_b[i, true[i]], p_b[i, other[i]] = 0.7, 0.3
            p_a[i, true[i]], p_a[i, other[i]] = 0.45, 0.55
    p_c = one_hot_probs(other)  # a confidently wrong third model must get weight 0
    labels = [CLASSES[k] for k in true]
    tables = {"vgg_lstm_a": rows_for(p_a, labels, ["val"] * 10),
              "vgg_lstm_b": rows_for(p_b, labels, ["val"] * 10),
              "audio_svm": rows_for(p_c, labels, ["val"] * 10)}
    result = grid_search_weights(align_predictions(tables), 0.05)
    assert result.val_accuracy == 1.0 and result.val_uar == 1.0
    assert result.weights[2] == 0.0
    # Margins: right when w_A*0.4 > w_B*0.1 and w_B*0.4 > w_A*0.1, i.e. 0.2 < w_A < 0.8 (open).
    assert 0.2 < result.weights[0] < 0.8
    assert result.equal_val_accuracy < 1.0  # the wrong third model spoils equal weights


def test_tie_rules_accuracy_then_uar_then_fewer_models():
    grid = np.array([[20, 0, 0], [10, 10, 0], [0, 10, 10], [5, 5, 10], [0, 0, 20]])
    correct = np.array([8, 9, 9, 9, 7])
    uars = np.array([0.9, 0.5, 0.7, 0.7, 0.1])
    # accuracy ties among 1, 2, 3; UAR ties among 2 and 3; fewer models: 2.
    assert choose_weights(correct, uars, grid) == 2
    assert choose_weights(np.array([8, 9, 9, 9, 7]), np.array([0, 0.8, 0.7, 0.7, 0]), grid) == 1
    # Full tie: the first of the fewest-model points.
    assert choose_weights(np.array([5] * 5), np.array([0.5] * 5), grid) == 0


def test_tie_by_fewer_models_in_the_search():
    """Two identical perfect models: every mixture is perfect, so a single model (weight 1) wins."""
    true = np.array([0, 1, 2, 3, 4, 5, 6])
    probs = one_hot_probs(true)
    labels = [CLASSES[k] for k in true]
    tables = {m: rows_for(probs, labels, ["val"] * 7) for m in MODELS[:2]}
    result = grid_search_weights(align_predictions(tables), 0.05)
    assert sorted(result.weights.tolist()) == [0.0, 1.0]


def _write_model_tables(tmp_path, probs_by_model, labels, splits, directory="predictions"):
    paths = {}
    for model, probs in probs_by_model.items():
        path = tmp_path / directory / f"{model}.tsv"
        write_predictions(path, rows_for(probs, labels, splits))
        paths[model] = path
    return paths


def _constructed_corpus(seed=0, n_val=35, n_test=21):
    """Five models of varying quality; the first two are complementary."""
    rng = np.random.default_rng(seed)
    true = np.concatenate([np.arange(n_val) % 7, np.arange(n_test) % 7])
    splits = ["val"] * n_val + ["test"] * n_test
    labels = [CLASSES[k] for k in true]
    labels[-1] = ""  # an unlabelled test clip
    probs_by_model = {}
    for m, model in enumerate(MODELS):
        logits = rng.normal(size=(len(true), 7))
        logits[np.arange(len(true)), true] += 1.5 - 0.25 * m
        probs_by_model[model] = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs_by_model, labels, splits


def test_run_fusion_writes_artifacts(tmp_path):
    probs_by_model, labels, splits = _constructed_corpus()
    paths = _write_model_tables(tmp_path, probs_by_model, labels, splits)
    rows = read_predictions(paths["audio_svm"])
    rows[3]["status"], rows[3]["reason"] = "quarantined", "clip clip003: no audio stream"
    rows[3]["probs"] = None  # a quarantined row carries no probabilities
    write_predictions(paths["audio_svm"], rows)
    result = run_fusion(paths, tmp_path / "fusion" / "weights.json", tmp_path / "predictions" / "fusion.tsv",
                        tmp_path / "metrics" / "fusion.json", grid_step=0.1)
    weights = json.loads((tmp_path / "fusion" / "weights.json").read_text())
    assert weights["models"] == list(MODELS) and weights["grid_step"] == 0.1
    assert weights["n_grid_points"] == math.comb(14, 4)
    assert sum(weights["weights"].values()) == pytest.approx(1.0)
    assert weights["refit"] is False
    assert weights["val"]["accuracy"] >= weights["equal_weights_val"]["accuracy"]
    assert weights["gain_over_equal_weights_val"]["accuracy"] == pytest.approx(
        weights["val"]["accuracy"] - weights["equal_weights_val"]["accuracy"])
    fused = read_predictions(tmp_path / "predictions" / "fusion.tsv")
    assert [r["clip_id"] for r in fused] == sorted(r["clip_id"] for r in fused if r["split"] == "val") + \
        sorted(r["clip_id"] for r in fused if r["split"] == "test")
    assert len(fused) == len(labels)
    assert all(np.isclose(r["probs"].sum(), 1.0) for r in fused)
    assert fused[3]["status"] == "ok" and "predicted without audio_svm" in fused[3]["reason"]
    assert "clip clip003: no audio stream" in fused[3]["reason"]
    metrics = json.loads((tmp_path / "metrics" / "fusion.json").read_text())
    assert metrics["val"]["accuracy"] == pytest.approx(result.val_accuracy)
    assert metrics["val"]["n"] == 35 and metrics["test"]["n"] == 20
    # Fused val accuracy is at least every single model's: each vertex of the simplex is a model.
    for model, probs in probs_by_model.items():
        single = (probs[:35].argmax(axis=1) == label_indices(labels[:35])).mean()
        assert result.val_accuracy >= single, model


def test_quarantined_everywhere_stays_quarantined(tmp_path):
    true = np.arange(7)
    labels = [CLASSES[k] for k in true]
    tables = {}
    for model in MODELS[:2]:
        rows = rows_for(one_hot_probs(true), labels, ["val"] * 7)
        rows[2]["probs"] = None
        rows[2]["status"], rows[2]["reason"] = "quarantined", f"clip clip002: no face ({model})"
        tables[model] = rows
    for model, rows in tables.items():
        write_predictions(tmp_path / f"{model}.tsv", rows)
    run_fusion({m: tmp_path / f"{m}.tsv" for m in tables}, tmp_path / "w.json", tmp_path / "fusion.tsv",
               tmp_path / "m.json", grid_step=0.5)
    fused = {r["clip_id"]: r for r in read_predictions(tmp_path / "fusion.tsv")}
    assert fused["clip002"]["status"] == "quarantined" and fused["clip002"]["probs"] is None
    assert "no fused model can see this clip" in fused["clip002"]["reason"]
    assert "no face (vgg_lstm_a)" in fused["clip002"]["reason"] and "no face (vgg_lstm_b)" in fused["clip002"]["reason"]
    assert fused["clip001"]["status"] == "ok"
    # The clip no model saw is a miss of its true class (FE): wrong, and in the no-prediction column.
    metrics = json.loads((tmp_path / "m.json").read_text())["val"]
    assert metrics["accuracy"] == pytest.approx(6 / 7) and metrics["n_no_prediction"] == 1
    assert metrics["per_class_recall"]["FE"] == 0.0 and metrics["uar"] == pytest.approx(6 / 7)
    assert metrics["confusion"][2] == [0, 0, 0, 0, 0, 0, 0, 1]
    assert json.loads((tmp_path / "w.json").read_text())["val"]["accuracy"] == pytest.approx(6 / 7)


def test_left_out_models_and_refit_mode(tmp_path):
    probs_by_model, labels, splits = _constructed_corpus(seed=2)
    chosen = {m: probs_by_model[m] for m in ("vgg_lstm_a", "audio_svm")}
    paths = _write_model_tables(tmp_path, chosen, labels, splits)
    # Refitted models: test rows only, here perfect, so the fused test accuracy must be 1.
    test_labels = labels[35:]
    true_test = np.arange(21) % 7
    refit_paths = {}
    for model in chosen:
        path = tmp_path / "predictions_refit" / f"{model}.tsv"
        write_predictions(path, rows_for(one_hot_probs(true_test), test_labels, ["test"] * 21,
                                         clip_ids=[f"clip{i:03d}" for i in range(35, 56)]))
        refit_paths[model] = path
    run_fusion(paths, tmp_path / "w.json", tmp_path / "fusion.tsv", tmp_path / "m.json",
               grid_step=0.05, refit_prediction_paths=refit_paths)
    weights = json.loads((tmp_path / "w.json").read_text())
    assert list(weights["weights"]) == ["vgg_lstm_a", "audio_svm"] and weights["refit"] is True
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["test"]["accuracy"] == 1.0 and metrics["test"]["n"] == 20
    fused = read_predictions(tmp_path / "fusion.tsv")
    assert sum(r["split"] == "test" for r in fused) == 21 and sum(r["split"] == "val" for r in fused) == 35


def test_inconsistent_labels_between_models_are_an_error():
    true = np.arange(7)
    labels = [CLASSES[k] for k in true]
    other = list(labels); other[0] = "SU"
    tables = {"vgg_lstm_a": rows_for(one_hot_probs(true), labels, ["val"] * 7),
              "audio_svm": rows_for(one_hot_probs(true), other, ["val"] * 7)}
    with pytest.raises(ValueError, match="clip000"):
        align_predictions(tables)


def test_missing_clip_is_fused_without_that_model():
    true = np.arange(7)
    labels = [CLASSES[k] for k in true]
    rows_a = rows_for(one_hot_probs(true), labels, ["val"] * 7)
    tables = {"vgg_lstm_a": rows_a, "audio_svm": rows_a[:-1]}
    aligned = align_predictions(tables)
    assert len(aligned.clip_ids) == 7
    assert not aligned.ok[1, 6] and "clip006" in aligned.reasons[1][6]
    assert np.isnan(aligned.probs[1, 6]).all()
    [row] = fused_rows(aligned.subset(np.arange(7) == 6), np.array([0.3, 0.7]))
    assert np.allclose(row["probs"], rows_a[6]["probs"]) and "without audio_svm" in row["reason"]


def _unseen_face_corpus():
    """Two models, 10 val clips. The face model A and the audio model B each get 5 of the 7 clips
    both see; a mixture with 0.185 < w_A < 0.815 gets 6 (A fixes B's unsure clip 4, B fixes A's
    unsure clip 5; clip 6 fools both). A cannot see clips 7 and 8 (true AN, B says DI), no model
    sees clip 9 (true AN)."""
    true = np.array([0, 1, 2, 3, 4, 5, 6, 0, 0, 0])
    p_a, p_b = one_hot_probs(true[:7]), one_hot_probs(true[:7])
    p_a[5] = 0.0; p_a[5, 5], p_a[5, 2] = 0.4, 0.6
    p_b[4] = 0.0; p_b[4, 4], p_b[4, 1] = 0.4, 0.6
    p_a[6], p_b[6] = one_hot_probs([3])[0], one_hot_probs([3])[0]
    p_a = np.concatenate([p_a, np.full((3, 7), np.nan)])
    p_b = np.concatenate([p_b, one_hot_probs([1, 1]), np.full((1, 7), np.nan)])
    seen = np.array([[True] * 7 + [False] * 3, [True] * 9 + [False]])
    return true, np.stack([p_a, p_b]), seen


def test_grid_search_scores_unseen_clips_as_the_fused_rows_do(tmp_path):
    """Scoring an unseen clip as a uniform 1/7 row at full weight (instead of renormalising over the
    models that saw it) would reward the face model alone: the uniform rows of clips 7-9 then
    "predict" AN, their true class, 8/10. Renormalised fusion scores A alone 5/10 (clips 7, 8 fall
    back to B, clip 9 is a miss) and picks the mixture, 6/10; the fused rows and their metrics show
    exactly that accuracy."""
    true, probs, seen = _unseen_face_corpus()
    labels = [CLASSES[k] for k in true]
    tables = {}
    for m, model in enumerate(("vgg_lstm_a", "audio_svm")):
        tables[model] = [
            {"clip_id": f"clip{n}", "split": "val", "label": labels[n], "probs": probs[m, n] if seen[m, n] else None,
             "status": "ok" if seen[m, n] else "quarantined", "reason": "" if seen[m, n] else f"clip clip{n}: no input"}
            for n in range(10)]
    grid = simplex_grid(2, 0.05) / 20
    uniform_unseen = np.where(seen[..., None], probs, 1 / 7)
    uniform_correct = [(np.einsum("m,mnc->nc", w, uniform_unseen).argmax(axis=1) == true).sum() for w in grid]
    assert max(uniform_correct) == 8 and grid[int(np.argmax(uniform_correct))].tolist() == [1.0, 0.0]

    paths = {}
    for model, rows in tables.items():
        paths[model] = tmp_path / f"{model}.tsv"
        write_predictions(paths[model], rows)
    result = run_fusion(paths, tmp_path / "w.json", tmp_path / "fusion.tsv", tmp_path / "m.json", grid_step=0.05)
    assert result.val_accuracy == pytest.approx(6 / 10)
    assert 0.185 < result.weights[0] < 0.815 and result.weights.sum() == pytest.approx(1.0)
    correct, _ = evaluate_grid(grid, probs, seen, true)
    assert correct[-1] == 5  # grid order: the last point is w_A = 1
    fused = {r["clip_id"]: r for r in read_predictions(tmp_path / "fusion.tsv")}
    assert [int(np.argmax(fused[f"clip{n}"]["probs"])) for n in (7, 8)] == [1, 1]  # B's DI, not AN
    assert fused["clip9"]["probs"] is None and fused["clip9"]["status"] == "quarantined"
    metrics = json.loads((tmp_path / "m.json").read_text())["val"]
    assert metrics["accuracy"] == pytest.approx(result.val_accuracy) and metrics["n_no_prediction"] == 1
    assert metrics["per_class_recall"]["AN"] == pytest.approx(1 / 4)  # clip 0 right; 7, 8 wrong; 9 a miss
    assert split_metrics(fused_rows(align_predictions(tables), result.weights), "val") == metrics


def test_seen_models_with_weight_zero_get_equal_weights():
    true, probs, seen = _unseen_face_corpus()
    labels = [CLASSES[k] for k in true]
    tables = {model: [{"clip_id": f"clip{n}", "split": "val", "label": labels[n],
                       "probs": probs[m, n] if seen[m, n] else None,
                       "status": "ok" if seen[m, n] else "quarantined", "reason": "" if seen[m, n] else "no input"}
                      for n in range(10)]
              for m, model in enumerate(("vgg_lstm_a", "audio_svm"))}
    rows = fused_rows(align_predictions(tables), np.array([1.0, 0.0]))
    assert np.array_equal(rows[7]["probs"], probs[1, 7])
    assert "all have fusion weight 0: fused with equal weights" in rows[7]["reason"]
    assert rows[0]["reason"] == "" and np.array_equal(rows[0]["probs"], probs[0, 0])


def test_weights_json_counts_and_gains_and_refit_needs_the_same_models(tmp_path):
    probs_by_model, labels, splits = _constructed_corpus(seed=3)
    paths = _write_model_tables(tmp_path, probs_by_model, labels, splits)
    result = run_fusion(paths, tmp_path / "w.json", tmp_path / "fusion.tsv", tmp_path / "m.json", grid_step=0.25)
    weights = json.loads((tmp_path / "w.json").read_text())
    assert weights["n_val"] == 35 == result.n_val
    assert weights["gain_over_equal_weights_val"]["uar"] == pytest.approx(
        weights["val"]["uar"] - weights["equal_weights_val"]["uar"])
    assert weights["val"]["uar"] == pytest.approx(result.val_uar)
    reordered = dict(reversed(list(paths.items())))
    with pytest.raises(ValueError, match="refit predictions must list the same models, in the same order"):
        run_fusion(paths, tmp_path / "w.json", tmp_path / "fusion.tsv", tmp_path / "m.json", grid_step=0.25,
                   refit_prediction_paths=reordered)


def test_messages_of_the_refused_inputs():
    # the errors name what is wrong: no model, a step outside (0, 1], a step that does not divide 1
    with pytest.raises(ValueError, match="^decision fusion needs at least one model$"):
        align_predictions({})
    with pytest.raises(ValueError, match="^the simplex grid needs at least one model$"):
        simplex_grid(0, 0.5)
    with pytest.raises(ValueError, match=r"^fusion grid step must be in \(0, 1\], got 1.5$"):
        grid_resolution(1.5)
    with pytest.raises(ValueError, match=r"^fusion grid step 0.3 does not divide 1 \(1/step = 3.33333"):
        grid_resolution(0.3)


def test_a_step_that_divides_one_up_to_rounding_is_accepted():
    # 49 * (1/49) is 0.9999999999999999 in floating point: the step still divides 1
    assert grid_resolution(1 / 49) == 49
    assert simplex_grid(2, 1 / 49).shape == (50, 2)
    assert simplex_grid(3, 0.5).dtype.kind == "i"  # integer step counts, as documented


def test_alignment_orders_by_split_then_clip_and_reads_missing_columns_as_defaults(caplog):
    # align_predictions: clips ordered by split, then clip id; a row without a label is unlabelled,
    # without a status is ok; a quarantined row is not seen even with probabilities, and without a
    # reason gets "clip <id> quarantined"; a seen clip has no reason; a clip a model lacks is not seen
    # by it, wherever it is in the table, and the log counts the clips each model lacks.
    caplog.set_level(logging.WARNING, logger="avemotion.fusion")
    probs = one_hot_probs([0, 1, 2])
    a = [{"clip_id": "a", "split": "val", "label": "AN", "probs": probs[0], "status": "ok", "reason": ""},
         {"clip_id": "b", "split": "test", "probs": probs[1]},
         {"clip_id": "c", "split": "val", "label": "FE", "probs": probs[2], "status": "ok", "reason": ""}]
    b = [{"clip_id": "a", "split": "val", "label": "AN", "probs": probs[0], "status": "quarantined"},
         {"clip_id": "c", "split": "val", "label": "FE", "probs": probs[2], "status": "ok", "reason": ""}]
    aligned = align_predictions({"m1": a, "m2": b})
    assert aligned.clip_ids == ["b", "a", "c"]
    assert aligned.splits.tolist() == ["test", "val", "val"] and aligned.labels.tolist() == ["", "AN", "FE"]
    assert aligned.ok.tolist() == [[True, True, True], [False, False, True]]
    assert aligned.reasons == [["", "", ""], ["clip b missing from m2 predictions", "clip a quarantined", ""]]
    assert np.array_equal(aligned.probs[0], probs[[1, 0, 2]]) and np.array_equal(aligned.probs[1, 2], probs[2])
    assert [r.getMessage() for r in caplog.records] == [
        "1 clips missing from m2 predictions: fused without that model"]


def test_no_numpy_warning_when_the_models_that_saw_a_clip_all_have_weight_zero():
    # clip_weights: equal weights over the models that saw a clip when their weights are all 0, and
    # none for a clip no model saw, without a division warning
    seen = np.array([[True, False, False], [True, True, False]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        weights = clip_weights(np.array([1.0, 0.0]), seen)
    assert weights.tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def test_a_clip_no_model_saw_has_no_class():
    fused = np.vstack([np.full(7, np.nan), one_hot_probs([3])])
    classes = fused_classes(fused)
    assert classes.tolist() == [NO_PREDICTION, 3] and classes.dtype.kind == "i"


def test_evaluate_grid_counts_are_integers():
    # evaluate_grid returns correct counts [P] int, UAR [P] float
    probs = one_hot_probs([0, 1])[None]
    correct, uars = evaluate_grid(np.array([[1.0]]), probs, np.ones((1, 2), bool), np.array([0, 2]))
    assert correct.tolist() == [1] and correct.dtype.kind == "i" and uars.tolist() == [0.5]


def test_fewer_models_wins_a_tie_wherever_it_is_in_the_grid():
    # choose_weights: among equal accuracy and UAR, the point using fewer models (a weight of one
    # step counts as a model), even after a point that uses more
    grid = np.array([[1, 1], [2, 0]])
    assert choose_weights(np.array([5, 5]), np.array([0.5, 0.5]), grid) == 1
    assert choose_weights(np.array([5, 5]), np.array([0.5, 0.5]), np.array([[1, 2], [0, 3]])) == 1


def test_without_labelled_val_clips_the_weights_are_equal():
    # grid_search_weights: no labelled validation clip: equal weights, no val scores, and the
    # selection says why
    probs = one_hot_probs([0, 1])
    tables = {m: rows_for(probs, ["", ""], ["val", "val"]) for m in MODELS[:4]}
    result = grid_search_weights(align_predictions(tables), 0.5)
    assert result.models == MODELS[:4] and result.weights.tolist() == [0.25] * 4
    assert (result.grid_step, result.n_grid_points, result.n_val) == (0.5, 10, 0)
    assert all(math.isnan(v) for v in (result.val_accuracy, result.val_uar, result.equal_val_accuracy,
                                       result.equal_val_uar))
    assert result.selection == "equal weights (no labelled validation clips)"
    assert result.to_json()["val"] == {"accuracy": None, "uar": None}


def test_the_selection_rule_is_written_with_the_weights():
    true = np.arange(7)
    tables = {m: rows_for(one_hot_probs(true), [CLASSES[k] for k in true], ["val"] * 7) for m in MODELS[:2]}
    result = grid_search_weights(align_predictions(tables), 0.5)
    assert result.selection == ("grid search on val: accuracy, then UAR, then fewer models "
                                "(each clip fused over the models that saw it; no model: a miss)")


def test_fusion_notes_name_the_models_left_out_and_their_weight():
    # fusion_note: which models were left out and their weight, over which the weights were renormalised
    models = ("m1", "m2", "m3", "m4")
    weights = [0.1, 0.2, 0.3, 0.4]
    assert fusion_note(models, weights, [True] * 4) == ""
    assert fusion_note(models, weights, [False] * 4) == "no fused model can see this clip"
    assert fusion_note(models, weights, [True, False, True, False]) == (
        "predicted without m2, m4 (fusion weight 0.60 left out); weights renormalised over m1, m3")
    assert fusion_note(models, [0.0, 0.0, 0.5, 0.5], [True, True, False, False]) == (
        "predicted without m3, m4 (fusion weight 1.00 left out); weights renormalised over m1, m2; "
        "the models that see this clip (m1, m2) all have fusion weight 0: fused with equal weights")


def test_a_fused_row_gives_every_left_out_models_reason():
    probs = one_hot_probs([0])
    a = rows_for(probs, ["AN"], ["val"])
    quarantined = [{"clip_id": "clip000", "split": "val", "label": "AN", "probs": None, "status": "quarantined",
                    "reason": "no face"}]
    aligned = align_predictions({"m1": a, "m2": quarantined, "m3": quarantined})
    [row] = fused_rows(aligned, np.array([0.5, 0.25, 0.25]))
    assert row["reason"] == ("predicted without m2, m3 (fusion weight 0.50 left out); weights renormalised "
                             "over m1 (m2: no face; m3: no face)")


def test_metrics_of_a_split_without_labelled_clips_are_null():
    # split_metrics: NaN accuracy and UAR are written as null (None)
    summary = split_metrics([{"clip_id": "t", "split": "test", "label": "", "probs": one_hot_probs([0])[0]}], "test")
    assert summary["accuracy"] is None and summary["uar"] is None


def test_refit_predictions_of_other_models_are_refused_with_the_reason(tmp_path):
    true = np.arange(7)
    labels = [CLASSES[k] for k in true]
    paths = _write_model_tables(tmp_path, {m: one_hot_probs(true) for m in MODELS[:2]}, labels, ["val"] * 7)
    refit = {MODELS[1]: paths[MODELS[1]], MODELS[0]: paths[MODELS[0]]}
    with pytest.raises(ValueError, match="^refit predictions must list the same models, in the same order$"):
        run_fusion(paths, tmp_path / "w.json", tmp_path / "f.tsv", tmp_path / "m.json", 0.5,
                   refit_prediction_paths=refit)
