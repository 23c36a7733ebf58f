"""Leverage scores with scikit-learn's randomized_svd, for bench/leverage_vs_sklearn.sh.

  leverage_vs_sklearn.py time TFIDF.h5ad RANK REPEATS
      times randomized_svd on the whole matrix (defaults, and FL-Sailer's l = 2k, q = 6) and
      prints key=value figures: median seconds and the process's peak RSS.
  leverage_vs_sklearn.py agree TFIDF.h5ad FLSAILER_SCORES.txt RANK REPEATS
      on a block small enough for an exact answer: exact leverage scores (eigendecomposition of
      the cells x cells Gram matrix, float64), randomized_svd's (both settings), and agreement
      (Spearman, top-20% overlap) of each method with the exact scores.

Runs with Debian's /usr/bin/python3 (python3-sklearn, python3-anndata).
"""
import resource
import sys
import time

import anndata
import numpy as np
import scipy.sparse
import scipy.stats
import sklearn
from sklearn.utils.extmath import randomized_svd

# name -> randomized_svd keyword arguments, given the rank k.
SETTINGS = {
    "sklearn_default": lambda k: {},  # n_oversamples=10, n_iter="auto" (7 here)
    "sklearn_l2k_q6": lambda k: {"n_oversamples": k, "n_iter": 6},
}


def load(path):
    x = anndata.read_h5ad(path).X
    return scipy.sparse.csr_matrix(x)


def leverage(vt, k):
    v = vt[:k].T.astype(np.float64)
    return (v * v).sum(axis=1) / k


def sklearn_scores(x, k, setting, seed):
    _, _, vt = randomized_svd(x, n_components=k, random_state=seed, **SETTINGS[setting](k))
    return leverage(vt, k)


def timed(fn, repeats):
    """Median wall and CPU seconds (all threads) of `repeats` calls, and the last result."""
    seconds, cpu, result = [], [], None
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        result = fn()
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    return float(np.median(seconds)), float(np.median(cpu)), result


def top_overlap(a, b, rate=0.2):
    s = int(np.ceil(rate * len(a)))
    return len(np.intersect1d(np.argsort(-a, kind="stable")[:s],
                              np.argsort(-b, kind="stable")[:s])) / s


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def main():
    mode, path = sys.argv[1], sys.argv[2]
    x = load(path)
    x.data = x.data.astype(np.float32, copy=False)
    csr_mb = (x.data.nbytes + x.indices.nbytes + x.indptr.nbytes) / 1e6
    print(f"sklearn_version={sklearn.__version__} cells={x.shape[0]} peaks={x.shape[1]} "
          f"nnz={x.nnz} csr_mb={csr_mb:.1f} loaded_rss_mb={peak_rss_mb():.1f}", flush=True)
    if mode == "time":
        k, repeats = int(sys.argv[3]), int(sys.argv[4])
        for setting in SETTINGS:
            seconds, cpu, _ = timed(lambda: sklearn_scores(x, k, setting, 0), repeats)
            print(f"method={setting} median_s={seconds:.2f} cpu_s={cpu:.2f} "
                  f"peak_rss_mb={peak_rss_mb():.1f}", flush=True)
        return
    ours = np.loadtxt(sys.argv[3])
    k, repeats = int(sys.argv[4]), int(sys.argv[5])
    xd = x.astype(np.float64)
    start = time.perf_counter()
    gram = (xd @ xd.T).toarray()
    values, vectors = np.linalg.eigh(gram)  # ascending
    order = np.argsort(values)[::-1]
    top = order[:k]
    v = (xd.T @ vectors[:, top]) / np.sqrt(values[top])
    exact = (np.asarray(v) ** 2).sum(axis=1) / k
    gap = np.sqrt(values[order[k - 1]] / values[order[k]])
    print(f"exact_s={time.perf_counter() - start:.2f} exact_sum={exact.sum():.6f} "
          f"sigma_k_over_sigma_k1={gap:.4f}")
    results = {"flsailer": ours}
    for setting in SETTINGS:
        seconds, cpu, results[setting] = timed(lambda: sklearn_scores(x, k, setting, 0), repeats)
        print(f"method={setting} subsample_median_s={seconds:.3f} subsample_cpu_s={cpu:.3f}")
    for name, scores in results.items():
        rho = scipy.stats.spearmanr(scores, exact).correlation
        print(f"method={name} spearman={rho:.4f} top20_overlap={top_overlap(scores, exact):.4f}")


if __name__ == "__main__":
    main()
