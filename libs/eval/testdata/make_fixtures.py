#!/usr/bin/python3
"""Makes the fixtures of the libs/eval tests: inputs and the values scikit-learn, SciPy and
leidenalg (or a direct transcription of a published algorithm) compute on them.

Run with Debian's interpreter, which has python3-sklearn, python3-scipy and python3-leidenalg:
    /usr/bin/python3 libs/eval/testdata/make_fixtures.py
The outputs are committed; rerun only to change the fixtures. Deterministic (fixed seeds).

Files (tab-separated text):
  blobs.tsv               240 cells: label, batch, x0..x5 (the embedding, 6 decimals)
  blobs_knn.tsv           cell, its 10 nearest other cells, their distances (sklearn, brute force)
  blobs_silhouette.tsv    cell, sklearn silhouette_samples of the labels
  blobs_lisi.tsv          cell, batch LISI (harmony's compute_simpson_index, perplexity 30, k 90)
  blobs_umap_graph.tsv    from, to, weight of the 15-NN UMAP graph (umap-learn's formulas)
  blobs_leiden.tsv        cell, leidenalg RBConfiguration cluster (resolution 1) on that graph
  blobs_kmeans.tsv        cell, sklearn KMeans(4, n_init=10) cluster
  expected.tsv            key, value: scalar metrics on the blobs
  partitions.tsv          name, labels, clusters (comma lists), ari, ami, nmi, homogeneity
  chi_square.tsv          x, df, scipy.stats.chi2.sf(x, df)
"""

import os

import igraph
import leidenalg
import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
import scipy.stats
from sklearn.cluster import KMeans
from sklearn.metrics import (adjusted_mutual_info_score, adjusted_rand_score,
                             homogeneity_score, normalized_mutual_info_score,
                             silhouette_samples)
from sklearn.neighbors import NearestNeighbors

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, rows, header=None):
    with open(os.path.join(HERE, name), "w") as f:
        if header:
            f.write("\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join(str(v) for v in row) + "\n")


def fmt(v):
    return repr(float(v))


def make_blobs():
    """4 cell types, 3 batches with a batch shift; type B comes from one batch only; type D is
    two sub-blobs far apart (so that its kNN subgraph may split)."""
    rng = np.random.default_rng(7)
    dims = 6
    centres = {"A": np.zeros(dims), "B": np.full(dims, 6.0), "C": np.array([6, -6, 0, 6, 0, 0.0]),
               "D1": np.array([-8, 0, 8, 0, -8, 0.0]), "D2": np.array([-8, 16, 8, 0, -8, 0.0])}
    batch_shift = {"b0": 0.0, "b1": 1.2, "b2": 2.4}
    rows = []
    plan = [("A", "A", 80, ["b0", "b1", "b2"]), ("B", "B", 50, ["b0"]),
            ("C", "C", 60, ["b0", "b1", "b2"]), ("D", "D1", 25, ["b1", "b2"]),
            ("D", "D2", 25, ["b1", "b2"])]
    for label, centre, count, batches in plan:
        for i in range(count):
            batch = batches[i % len(batches)]
            x = centres[centre] + rng.normal(size=dims)
            x[dims - 1] += batch_shift[batch]
            rows.append((label, batch, x))
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    labels = np.array([r[0] for r in rows])
    batches = np.array([r[1] for r in rows])
    text = np.array([[float("%.6f" % v) for v in r[2]] for r in rows])
    # The C++ side reads float32: compute every expected value on exactly those numbers.
    x = text.astype(np.float32).astype(np.float64)
    write("blobs.tsv", [[l, b] + ["%.6f" % v for v in row] for l, b, row in zip(labels, batches, text)],
          header=["label", "batch"] + ["x%d" % t for t in range(dims)])
    return x, labels, batches


def knn(x, k):
    """k nearest other cells of each cell (sklearn brute force), nearest first."""
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(x)
    dist, idx = nn.kneighbors(x)
    out_idx, out_dist = [], []
    for i in range(len(x)):
        keep = [j for j in range(k + 1) if idx[i, j] != i][:k]
        out_idx.append(idx[i, keep])
        out_dist.append(dist[i, keep])
    return np.array(out_idx), np.array(out_dist)


def umap_graph(idx, dist):
    """umap-learn's smooth_knn_dist + compute_membership_strengths + fuzzy union, with the cell
    itself as the zero-distance first neighbour (Scanpy's n_neighbors = k + 1)."""
    n, k = idx.shape
    target = np.log2(k + 1)
    mean_all = dist.sum() / (n * (k + 1))
    w = scipy.sparse.lil_matrix((n, n))
    for i in range(n):
        d = dist[i]
        nonzero = d[d > 0]
        rho = nonzero[0] if len(nonzero) else 0.0
        lo, hi, mid = 0.0, np.inf, 1.0
        for _ in range(64):
            psum = sum(np.exp(-(dj - rho) / mid) if dj - rho > 0 else 1.0 for dj in d)
            if abs(psum - target) < 1e-5:
                break
            if psum > target:
                hi = mid
                mid = (lo + hi) / 2
            else:
                lo = mid
                mid = mid * 2 if hi == np.inf else (lo + hi) / 2
        sigma = mid
        mean_own = d.sum() / (k + 1)
        sigma = max(sigma, 1e-3 * (mean_own if rho > 0 else mean_all))
        for j in range(k):
            dj = d[j] - rho
            w[i, idx[i, j]] = 1.0 if dj <= 0 else np.exp(-dj / sigma)
    w = w.tocsr()
    sym = w + w.T - w.multiply(w.T)
    return scipy.sparse.triu(sym, k=1).tocoo()


def lisi(idx, dist, categories, perplexity):
    """harmony's compute_simpson_index (Korsunsky et al. 2019), returned as 1 / simpson."""
    codes = np.unique(categories, return_inverse=True)[1]
    out = []
    log_u = np.log(perplexity)
    for i in range(len(idx)):
        d = dist[i]

        def hbeta(beta):
            p = np.exp(-d * beta)
            s = p.sum()
            h = np.log(s) + beta * np.sum(d * p) / s
            return h, p / s

        beta, beta_min, beta_max = 1.0, -np.inf, np.inf
        h, p = hbeta(beta)
        h_diff = h - log_u
        tries = 0
        while abs(h_diff) > 1e-5 and tries < 50:
            if h_diff > 0:
                beta_min = beta
                beta = beta * 2 if beta_max == np.inf else (beta + beta_max) / 2
            else:
                beta_max = beta
                beta = beta / 2 if beta_min == -np.inf else (beta + beta_min) / 2
            h, p = hbeta(beta)
            h_diff = h - log_u
            tries += 1
        mass = np.bincount(codes[idx[i]], weights=p, minlength=codes.max() + 1)
        out.append(1.0 / np.sum(mass ** 2))
    return np.array(out)


def batch_asw(x, labels, batches):
    """scib.metrics.silhouette_batch(scale=True)."""
    means = []
    for label in np.unique(labels):
        mask = labels == label
        n_batches = len(np.unique(batches[mask]))
        if n_batches == 1 or n_batches == mask.sum():
            continue
        s = silhouette_samples(x[mask], batches[mask])
        means.append(np.mean(1 - np.abs(s)))
    return float(np.mean(means))


def graph_connectivity(idx, labels):
    """scib.metrics.graph_connectivity on the symmetrised kNN graph."""
    n, k = idx.shape
    a = scipy.sparse.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), idx.ravel())),
                                shape=(n, n))
    a = a + a.T
    fractions = []
    for label in np.unique(labels):
        mask = np.flatnonzero(labels == label)
        _, comp = scipy.sparse.csgraph.connected_components(a[mask][:, mask], connection="strong")
        fractions.append(np.bincount(comp).max() / len(mask))
    return float(np.mean(fractions))


def kbet(x, labels, batches, alpha=0.05):
    """kBET acceptance as scib.metrics.kBET with R kBET's test, every cell tested, exact
    Euclidean kNN within the label (libs/eval/integration_metrics.h documents the choices)."""
    rejections = []
    for label in np.unique(labels):
        mask = np.flatnonzero(labels == label)
        sub_batches = batches[mask]
        names, counts = np.unique(sub_batches, return_counts=True)
        if len(mask) < 10 or len(names) < 2:
            continue
        k0 = int(min(70, max(10, np.floor(np.mean(counts) / 4))))
        idx, _ = knn(x[mask], k0 - 1)
        freq = counts / len(mask)
        rejected = 0
        for i in range(len(mask)):
            hood = np.concatenate([[i], idx[i]])
            observed = np.array([np.sum(sub_batches[hood] == b) for b in names])
            expected = freq * k0
            chi2 = np.sum((observed - expected) ** 2 / expected)
            rejected += scipy.stats.chi2.sf(chi2, len(names) - 1) < alpha
        rejections.append(rejected / len(mask))
    return 1 - float(np.mean(rejections))


def partitions():
    rng = np.random.default_rng(11)
    cases = []
    truth = rng.integers(0, 5, 200)
    noisy = np.where(rng.random(200) < 0.3, rng.integers(0, 7, 200), truth)
    cases.append(("noisy", truth, noisy))
    cases.append(("permuted_perfect", truth, (truth * 3 + 1) % 5 + 10))
    cases.append(("both_one_cluster", np.zeros(50, int), np.full(50, 4)))
    cases.append(("labels_equal", np.zeros(60, int), rng.integers(0, 3, 60)))
    cases.append(("clusters_one", rng.integers(0, 3, 60), np.zeros(60, int)))
    cases.append(("singleton_clusters", rng.integers(0, 4, 40), np.arange(40)))
    cases.append(("all_singletons", np.arange(30), np.arange(30)[::-1]))
    cases.append(("sklearn_example", np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])))
    cases.append(("two_cells", np.array([0, 1]), np.array([0, 0])))
    big_truth = rng.integers(0, 10, 3000)
    big_pred = np.where(rng.random(3000) < 0.5, rng.integers(0, 12, 3000), big_truth)
    cases.append(("large", big_truth, big_pred))
    rows = []
    for name, t, p in cases:
        rows.append([name, ",".join(map(str, t)), ",".join(map(str, p)),
                     fmt(adjusted_rand_score(t, p)), fmt(adjusted_mutual_info_score(t, p)),
                     fmt(normalized_mutual_info_score(t, p)), fmt(homogeneity_score(t, p))])
    write("partitions.tsv", rows,
          header=["name", "labels", "clusters", "ari", "ami", "nmi", "homogeneity"])


def main():
    x, labels, batches = make_blobs()
    idx10, dist10 = knn(x, 10)
    write("blobs_knn.tsv", [[i, ",".join(map(str, idx10[i])), ",".join(fmt(d) for d in dist10[i])]
                            for i in range(len(x))], header=["cell", "neighbors", "distances"])
    sil = silhouette_samples(x, labels)
    write("blobs_silhouette.tsv", [[i, fmt(s)] for i, s in enumerate(sil)],
          header=["cell", "silhouette"])
    idx90, dist90 = knn(x, 90)
    batch_lisi = lisi(idx90, dist90, batches, 30)
    write("blobs_lisi.tsv", [[i, fmt(v)] for i, v in enumerate(batch_lisi)],
          header=["cell", "lisi"])
    idx15, dist15 = knn(x, 15)
    graph = umap_graph(idx15, dist15)
    order = np.lexsort((graph.col, graph.row))
    write("blobs_umap_graph.tsv", [[graph.row[e], graph.col[e], fmt(graph.data[e])] for e in order],
          header=["from", "to", "weight"])
    g = igraph.Graph(n=len(x), edges=list(zip(graph.row.tolist(), graph.col.tolist())))
    g.es["weight"] = graph.data.tolist()
    partition = leidenalg.find_partition(g, leidenalg.RBConfigurationVertexPartition,
                                         weights="weight", resolution_parameter=1.0,
                                         n_iterations=-1, seed=0)
    write("blobs_leiden.tsv", [[i, c] for i, c in enumerate(partition.membership)],
          header=["cell", "cluster"])
    km = KMeans(n_clusters=4, n_init=10, random_state=0).fit(x)
    write("blobs_kmeans.tsv", [[i, c] for i, c in enumerate(km.labels_)], header=["cell", "cluster"])

    n_batches = len(np.unique(batches))
    expected = {
        "label_asw": (np.mean(sil) + 1) / 2,
        "batch_asw": batch_asw(x, labels, batches),
        "graph_connectivity_k15": graph_connectivity(idx15, labels),
        "graph_connectivity_k3": graph_connectivity(knn(x, 3)[0], labels),
        "ilisi": (np.median(batch_lisi) - 1) / (n_batches - 1),
        "kbet": kbet(x, labels, batches),
        "kmeans_inertia": km.inertia_,
        "leiden_clusters": len(set(partition.membership)),
    }
    write("expected.tsv", [[k, fmt(v)] for k, v in expected.items()], header=["key", "value"])

    partitions()
    chi = []
    for x2, df in [(0.0, 1), (0.5, 1), (3.84, 1), (10.0, 1), (1.0, 2), (5.99, 2), (30.0, 2),
                   (2.0, 3), (7.81, 3), (60.0, 3), (100.0, 5), (0.01, 10), (150.0, 69)]:
        chi.append([fmt(x2), df, fmt(scipy.stats.chi2.sf(x2, df))])
    write("chi_square.tsv", chi, header=["x", "df", "sf"])


if __name__ == "__main__":
    main()
