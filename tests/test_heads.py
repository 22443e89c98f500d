"""Classifier heads: agreement with scikit-learn, determinism, and what strategies read from them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from pytest_albench.engine.heads import LogisticHead, MLPHead, make_head
from pytest_albench.errors import ConfigError, UnknownNameError


@pytest.fixture(scope="module")
def bbc_features() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Real features: BBC News (packaged) through TF-IDF + SVD fitted on the training texts only."""
    from pytest_albench.data import load_dataset

    data = load_dataset("bbc_news")
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2).fit(data.train.texts)
    svd = TruncatedSVD(64, random_state=0).fit(vectorizer.transform(data.train.texts))
    x_train = svd.transform(vectorizer.transform(data.train.texts)).astype(np.float32)
    x_test = svd.transform(vectorizer.transform(data.test.texts)).astype(np.float32)
    return x_train, data.train.labels.copy(), x_test, data.test.labels.copy()


@pytest.mark.parametrize("n_labeled", [20, 100, 400])
def test_logistic_head_is_within_one_point_of_scikit_learn(bbc_features, n_labeled: int) -> None:
    x_train, y_train, x_test, y_test = bbc_features
    idx = np.random.default_rng(n_labeled).choice(len(y_train), n_labeled, replace=False)
    reference = LogisticRegression(C=1.0, max_iter=5000).fit(x_train[idx], y_train[idx])
    ours = LogisticHead(n_classes=5).fit(torch.from_numpy(x_train[idx]), torch.from_numpy(y_train[idx]))
    ours_acc = float((ours.predict_proba(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean())
    ref_acc = float((reference.predict(x_test) == y_test).mean())
    assert abs(ours_acc - ref_acc) <= 0.01
    # same objective, so the probabilities agree closely too (classes present in the labeled set)
    present = np.unique(y_train[idx])
    ours_p = ours.predict_proba(torch.from_numpy(x_test)).numpy()[:, present]
    ours_p /= ours_p.sum(axis=1, keepdims=True) if len(present) < 5 else 1.0
    assert np.abs(ours_p - reference.predict_proba(x_test)).max() < 0.02


@pytest.mark.parametrize("head", ["logistic", "mlp"])
def test_heads_are_deterministic_for_a_seed(bbc_features, head: str) -> None:
    x_train, y_train, x_test, _ = bbc_features
    idx = np.random.default_rng(0).choice(len(y_train), 60, replace=False)
    x, y, xt = torch.from_numpy(x_train[idx]), torch.from_numpy(y_train[idx]), torch.from_numpy(x_test)
    first = make_head(head, 5, seed=3).fit(x, y).predict_proba(xt)
    second = make_head(head, 5, seed=3).fit(x, y).predict_proba(xt)
    assert torch.equal(first, second)
    assert torch.allclose(first.sum(dim=1), torch.ones(len(xt)), atol=1e-5)


def test_mlp_head_learns_and_exposes_hidden_features_and_mc_dropout(bbc_features) -> None:
    x_train, y_train, x_test, y_test = bbc_features
    idx = np.random.default_rng(0).choice(len(y_train), 300, replace=False)  # rows are grouped by class
    head = MLPHead(n_classes=5, seed=0).fit(torch.from_numpy(x_train[idx]), torch.from_numpy(y_train[idx]))
    acc = float((head.predict_proba(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean())
    assert acc > 0.8
    assert head.hidden(torch.from_numpy(x_test[:7])).shape == (7, head.hidden_dim)
    gen = torch.Generator().manual_seed(0)
    samples = head.sampled_proba(torch.from_numpy(x_test[:7]), 4, gen)
    assert samples.shape == (4, 7, 5)
    assert not torch.equal(samples[0], samples[1])  # dropout masks differ between passes


@pytest.mark.parametrize("posterior", ["laplace", "bootstrap"])
def test_logistic_sampled_proba_draws_distinct_heads(bbc_features, posterior: str) -> None:
    x_train, y_train, x_test, _ = bbc_features
    idx = np.random.default_rng(0).choice(len(y_train), 50, replace=False)
    head = LogisticHead(n_classes=5, posterior=posterior)
    head.fit(torch.from_numpy(x_train[idx]), torch.from_numpy(y_train[idx]))
    samples = head.sampled_proba(torch.from_numpy(x_test[:5]), 3, torch.Generator().manual_seed(1))
    assert samples.shape == (3, 5, 5)
    assert not torch.equal(samples[0], samples[1])
    torch.testing.assert_close(samples.sum(dim=2), torch.ones(3, 5))
    assert torch.equal(head.hidden(torch.from_numpy(x_test[:5])), torch.from_numpy(x_test[:5]))


def test_laplace_precision_is_the_hessian_diagonal_of_the_objective() -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(12, 4, generator=gen, dtype=torch.float64)
    y = torch.arange(12) % 3
    head = LogisticHead(n_classes=3, C=2.0).fit(x, y)

    def objective(flat: torch.Tensor) -> torch.Tensor:
        w, b = flat[:12].reshape(4, 3), flat[12:]
        ce = torch.nn.functional.cross_entropy(x @ w + b, y, reduction="sum")
        return 0.5 * (w * w).sum() + 2.0 * ce

    flat = torch.cat([head.weight.flatten(), head.bias]).double()
    hessian = torch.autograd.functional.hessian(objective, flat)
    w_precision, b_precision = head.laplace_precision()
    torch.testing.assert_close(w_precision.flatten(), hessian.diagonal()[:12])
    torch.testing.assert_close(b_precision, hessian.diagonal()[12:] + 1e-6)


def test_laplace_samples_concentrate_as_labels_accumulate(bbc_features) -> None:
    x_train, y_train, x_test, _ = bbc_features
    spread = []
    for n in (20, 400):
        idx = np.random.default_rng(0).choice(len(y_train), n, replace=False)
        head = LogisticHead(n_classes=5).fit(torch.from_numpy(x_train[idx]), torch.from_numpy(y_train[idx]))
        samples = head.sampled_proba(torch.from_numpy(x_test[:200]), 16, torch.Generator().manual_seed(0))
        spread.append(float(samples.std(dim=0).mean()))
    assert spread[1] < spread[0]


def test_warm_start_reaches_the_cold_start_optimum(bbc_features) -> None:
    x_train, y_train, x_test, _ = bbc_features
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    first = LogisticHead(n_classes=5).fit(xt[:60], yt[:60])
    cold = LogisticHead(n_classes=5).fit(xt[:120], yt[:120])
    warm = LogisticHead(n_classes=5)
    warm.warm_start_from(first)
    warm.fit(xt[:120], yt[:120])
    probe = torch.from_numpy(x_test)
    agree = (warm.predict_proba(probe).argmax(1) == cold.predict_proba(probe).argmax(1)).double().mean()
    assert float(agree) >= 0.99
    torch.testing.assert_close(warm.predict_proba(probe), cold.predict_proba(probe), atol=2e-2, rtol=0)


def test_unfitted_head_and_bad_names_give_clear_errors() -> None:
    with pytest.raises(ConfigError, match="fitted"):
        LogisticHead(n_classes=2).predict_proba(torch.zeros(1, 3))
    with pytest.raises(UnknownNameError, match="logistic"):
        make_head("logistc", 2, seed=0)
    with pytest.raises(ConfigError, match="invalid parameters"):
        make_head("logistic", 2, seed=0, hidden_dim=3)


def test_an_unknown_posterior_is_refused_when_the_head_is_made() -> None:
    with pytest.raises(ConfigError, match=r"unknown posterior 'laplase'.*'laplace' or 'bootstrap'"):
        make_head("logistic", 3, seed=0, posterior="laplase")


def test_in_place_softmax_equals_softmax_of_the_logits_bit_for_bit() -> None:
    """predict_proba writes the softmax over its logits buffer: the values must not change at all."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 16, generator=gen), torch.randint(0, 5, (300,), generator=gen)
    head = LogisticHead(n_classes=5).fit(x[:100], y[:100])
    assert torch.equal(head.predict_proba(x), torch.softmax(head.logits(x), dim=1))


@pytest.mark.parametrize("posterior", ["laplace", "bootstrap"])
def test_padded_forward_passes_give_the_unpadded_probabilities_for_many_classes(posterior: str) -> None:
    """77 classes: the forward pass runs over 80 columns (blas.addmm_padded); the values must not move."""
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(2000, 48, generator=gen), torch.arange(2000) % 77
    head = LogisticHead(n_classes=77, posterior=posterior, max_iter=20).fit(x[:400], y[:400])
    proba = head.predict_proba(x)
    assert proba.shape == (2000, 77)
    assert torch.equal(proba, torch.softmax(head.logits(x), dim=1))
    draws = head.sampled_proba(x, 3, torch.Generator().manual_seed(2))
    assert draws.shape == (3, 2000, 77)
    torch.testing.assert_close(draws.sum(dim=2), torch.ones(3, 2000), atol=1e-5, rtol=0)
