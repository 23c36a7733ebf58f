#include "libs/data/hdf5_formats.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/data/cell_table.h"
#include "libs/data/dataset.h"
#include "libs/data/matrix_market.h"

namespace flsailer::data {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kGranja[] = "../shared/data/granja2019_bmmc";

// Fixtures made with h5py / anndata. Usage: fixtures.py <dir> <kind> [file].
constexpr char kFixtureScript[] = R"PY(
import os, shutil, sys
import numpy as np
import h5py

out, kind = sys.argv[1], sys.argv[2]
os.chdir(out)


def vlen(values):
    return np.array(values, dtype=h5py.string_dtype())


def fixed(values):  # numpy |S byte strings, as Cell Ranger writes them
    return np.array(values, dtype="S")


def messy(indptr, indices, data):
    """Same matrix, stored the hard way: a reversed slot, a split duplicate, an explicit zero."""
    slots = [list(zip(indices[indptr[i]:indptr[i + 1]], data[indptr[i]:indptr[i + 1]]))
             for i in range(len(indptr) - 1)]
    first = next(i for i, s in enumerate(slots) if len(s) >= 2)
    slots[first].reverse()
    minor, value = slots[first][0]
    slots[first][0] = (minor, value / 2)
    slots[first].append((minor, value / 2))
    used = {m for m, _ in slots[-1]}
    slots[-1].append((next(m for m in range(1000) if m not in used), 0.0))
    new_indptr = np.cumsum([0] + [len(s) for s in slots]).astype(np.int64)
    new_indices = np.array([m for s in slots for m, _ in s], dtype=np.int64)
    new_data = np.array([v for s in slots for _, v in s], dtype=np.float64)
    return new_indptr, new_indices, new_data


def make_messy(path):
    with h5py.File(path, "r+") as f:
        x = f["X"]
        arrays = messy(x["indptr"][()], x["indices"][()], x["data"][()])
        for name, values in zip(["indptr", "indices", "data"], arrays):
            del x[name]
            x[name] = values
        ip, ix = x["indptr"][()], x["indices"][()]
        assert any(np.any(np.diff(ix[ip[i]:ip[i + 1]]) <= 0) for i in range(len(ip) - 1))
        assert np.any(x["data"][()] == 0)


def anndata_fixtures():
    import anndata as ad
    import pandas as pd
    import scipy.io
    import scipy.sparse as sp

    def fmt(v):  # how ReadH5ad renders obs values
        if v is None or v is pd.NA:
            return ""
        if isinstance(v, (bool, np.bool_)):
            return "True" if v else "False"
        if isinstance(v, (float, np.floating)):
            if np.isnan(v):
                return ""
            return str(int(v)) if float(v).is_integer() else repr(float(v))
        return str(v)

    rng = np.random.default_rng(7)
    n, p = 50, 40
    dense = rng.poisson(1.5, size=(n, p)) * (rng.random((n, p)) < 0.2)
    scipy.io.mmwrite("expected.mtx", sp.coo_matrix(dense.astype(np.int64)))
    x = sp.csr_matrix(dense.astype(np.float32))
    cell_type = rng.choice(["B", "T", "NK"], size=n).astype(object)
    cell_type[[3, 9]] = np.nan
    obs = pd.DataFrame(index=[f"cell{i}-1" for i in range(n)])
    obs["cell_type"] = pd.Categorical(cell_type)
    obs["n_peaks"] = (dense > 0).sum(axis=1).astype(np.int64)
    obs["score"] = np.round(rng.normal(size=n), 3)
    obs.loc[obs.index[0], "score"] = 2.0
    obs["alias"] = [f"a{i}" for i in range(n)]  # all distinct: stays a string array
    obs["doublet"] = rng.random(n) < 0.3
    obs["umis"] = pd.array([None if i % 7 == 0 else 10 * i for i in range(n)], dtype="Int64")
    var = pd.DataFrame(index=[f"chr{1 + j // 20}:{1000 * j}-{1000 * j + 500}" for j in range(p)])
    with open("obs.tsv", "w") as f:
        columns = [[fmt(v) for v in obs[c].tolist()] for c in obs.columns]
        f.write("\t".join(["barcode"] + list(obs.columns)) + "\n")
        for i, name in enumerate(obs.index):
            f.write("\t".join([name] + [c[i] for c in columns]) + "\n")
    with open("var.txt", "w") as f:
        f.write("\n".join(var.index) + "\n")
    ad.AnnData(x, obs=obs, var=var).write_h5ad("csr.h5ad")
    ad.AnnData(x.tocsc(), obs=obs, var=var).write_h5ad("csc.h5ad")
    ad.AnnData(dense.astype(np.float32), obs=obs, var=var).write_h5ad("dense.h5ad")
    ad.AnnData(dense.astype(np.int64), obs=obs, var=var).write_h5ad("dense_int.h5ad")
    for name in ["dense.h5ad", "dense_int.h5ad"]:
        with h5py.File(name, "r") as f:
            assert f["X"].attrs["encoding-type"] == "array" and f["X"].ndim == 2
    for name, encoding in [("csr.h5ad", "csr_matrix"), ("csc.h5ad", "csc_matrix")]:
        with h5py.File(name, "r") as f:
            assert f["X"].attrs["encoding-type"] == encoding
            assert f["obs/alias"].attrs["encoding-type"] == "string-array"
            assert f["obs/cell_type/codes"][3] == -1
            assert f["obs/umis"].attrs["encoding-type"] == "nullable-integer"
        make_messy(name)


def chunked_fixtures():  # the same 1.5M-entry matrix as csr and csc: more than one 2^20 chunk
    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp

    n, p = 3000, 2000
    x = sp.random(n, p, density=0.25, format="csr", dtype=np.float32, random_state=3)
    x.data = np.ceil(x.data * 4)
    obs = pd.DataFrame(index=[f"c{i}" for i in range(n)])
    var = pd.DataFrame(index=[f"chr1:{10 * j}-{10 * j + 5}" for j in range(p)])
    ad.AnnData(x, obs=obs, var=var).write_h5ad("chunked_csr.h5ad")
    ad.AnnData(x.tocsc(), obs=obs, var=var).write_h5ad("chunked_csc.h5ad")
    ad.AnnData(x.toarray(), obs=obs, var=var).write_h5ad("chunked_dense.h5ad")


def legacy_fixture():  # anndata 0.7 layout: categoricals as codes referring to __categories
    with h5py.File("legacy07.h5ad", "w") as f:
        x = f.create_group("X")
        x.attrs["h5sparse_format"] = "csr"
        x.attrs["h5sparse_shape"] = np.array([5, 3])
        x["data"] = np.array([1, 3, 2, 1, 1, 1, 5], dtype=np.int32)
        x["indices"] = np.array([0, 2, 1, 0, 1, 2, 2], dtype=np.int32)
        x["indptr"] = np.array([0, 2, 2, 3, 6, 7], dtype=np.int64)
        obs = f.create_group("obs")
        obs.attrs.update({"encoding-type": "dataframe", "encoding-version": "0.1.0",
                          "_index": "_index", "column-order": ["cell_type"]})
        obs["_index"] = fixed(["c0", "c1", "c2", "c3", "c4"])
        cats = obs.create_group("__categories")
        cats["cell_type"] = vlen(["B", "T"])
        codes = obs.create_dataset("cell_type", data=np.array([1, 0, -1, 1, 0], dtype=np.int8))
        codes.attrs["categories"] = cats["cell_type"].ref
        var = f.create_group("var")
        var.attrs.update({"encoding-type": "dataframe", "encoding-version": "0.1.0",
                          "_index": "_index", "column-order": ["chrom", "start", "end"]})
        var["_index"] = vlen(["peak_a", "peak_b", "peak_c"])
        var_cats = var.create_group("__categories")
        var_cats["chrom"] = vlen(["chr2", "chrX"])
        chrom = var.create_dataset("chrom", data=np.array([0, 0, 1], dtype=np.int8))
        chrom.attrs["categories"] = var_cats["chrom"].ref
        var["start"] = np.array([10, 500, 7], dtype=np.int64)
        var["end"] = np.array([20, 900, 70], dtype=np.int32)


def tenx_fixture(name, strings, types):
    barcodes = ["AAAC-1", "AAAG-1", "AACT-1"]
    ids = ["chr1:100-600", "ENSG01", "chr1:1000-1500", "ENSG02", "chr2:50-550"]
    # Per cell (a CSC column): (feature, count) in file order - unsorted, a duplicate, a zero.
    cells = [[(4, 2), (0, 1), (1, 5)], [(2, 3), (3, 7), (2, 1), (0, 0)], []]
    with h5py.File(name, "w") as f:
        m = f.create_group("matrix")
        m["barcodes"] = strings(barcodes)
        m["data"] = np.array([v for c in cells for _, v in c], dtype=np.int32)
        m["indices"] = np.array([i for c in cells for i, _ in c], dtype=np.int64)
        m["indptr"] = np.cumsum([0] + [len(c) for c in cells]).astype(np.int64)
        m["shape"] = np.array([len(ids), len(barcodes)], dtype=np.int32)
        features = m.create_group("features")
        features["id"] = strings(ids)
        features["name"] = strings(ids)
        features["feature_type"] = strings(types)
        features["genome"] = strings(["GRCh38"] * len(ids))
        features["_all_tag_keys"] = strings(["genome"])


def corrupt_fixtures():  # variants of base.h5ad (written by WriteH5ad)
    def variant(name, change):
        shutil.copy("base.h5ad", name)
        with h5py.File(name, "r+") as f:
            change(f)

    def set_item(path, i, value):
        def change(f):
            f[path][i] = value
        return change

    def dense_shape(f):
        del f["X"]
        f["X"] = np.zeros((4, 2), dtype=np.float32)

    def dense_nan(f):
        del f["X"]
        f["X"] = np.zeros((4, 3), dtype=np.float32)
        f["X"][1, 2] = np.nan

    def text_x(f):
        del f["X"]
        f["X"] = vlen(["a", "b", "c", "d"])

    def shape(f):
        f["X"].attrs["shape"] = np.array([5, 3], dtype=np.int64)

    def compound_obs(f):
        del f["obs"]
        f["obs"] = np.zeros(4, dtype=[("index", "S8"), ("cell_type", "i1")])

    def gene_var(f):
        del f["var"]
        var = f.create_group("var")
        var.attrs["_index"] = "_index"
        var["_index"] = vlen(["chr1:1-100", "ENSG0002", "chr2:5-50"])

    variant("dense_shape.h5ad", dense_shape)
    variant("dense_nan.h5ad", dense_nan)
    variant("text_x.h5ad", text_x)
    variant("index_range.h5ad", set_item("X/indices", 1, 7))
    variant("indptr.h5ad", set_item("X/indptr", 2, 0))
    variant("nan.h5ad", set_item("X/data", 2, np.nan))
    variant("shape.h5ad", shape)
    variant("compound_obs.h5ad", compound_obs)
    variant("gene_var.h5ad", gene_var)
    variant("bad_code.h5ad", set_item("obs/cell_type/codes", 0, 9))
    variant("duplicate_barcode.h5ad", set_item("obs/_index", 1, "AAAC-1"))


def renamed_fixture():  # base.h5ad with Signac's var column names and an index of plain ids
    shutil.copy("base.h5ad", "seqnames.h5ad")
    with h5py.File("seqnames.h5ad", "r+") as f:
        var = f["var"]
        var.move("chrom", "seqnames")
        index = var.attrs["_index"]
        n = var[index].shape[0]
        del var[index]
        var[index] = vlen([f"peak{j}" for j in range(n)])
        var.attrs["column-order"] = ["seqnames", "start", "end"]


def check(path):  # what anndata makes of a file written by WriteH5ad
    import warnings
    import anndata as ad

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = ad.read_h5ad(path)
    lines = [f"warnings {len(caught)} {[str(w.message) for w in caught]}",
             f"shape {a.shape[0]} {a.shape[1]}", f"format {a.X.format}", f"nnz {a.X.nnz}",
             f"dtype {a.X.dtype}", f"sum {int(a.X.sum())}",
             f"obs_names {a.obs_names[0]} {a.obs_names[-1]}",
             f"var_names {a.var_names[0]} {a.var_names[-1]}",
             f"var {a.var['chrom'].iloc[-1]} {a.var['start'].iloc[-1]} {a.var['end'].iloc[-1]}"]
    lines += [f"column {c} {a.obs[c].dtype.name}" for c in a.obs.columns]
    for category, count in a.obs["cell_type"].value_counts().sort_index().items():
        lines.append(f"cell_type {category} {count}")
    e = a.obsm["X_flsailer"]
    lines.append(f"obsm {e.shape[0]} {e.shape[1]} {e.dtype} {float(e[599, 2])!r}")
    with open("facts.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if kind == "anndata":
    anndata_fixtures()
elif kind == "chunked":
    chunked_fixtures()
elif kind == "legacy":
    legacy_fixture()
elif kind == "tenx":
    tenx_fixture("tenx_fixed.h5", fixed, ["Peaks", "Gene Expression", "Peaks", "Gene Expression",
                                         "Peaks"])
    tenx_fixture("tenx_vlen.h5", vlen, ["Peaks", "Gene Expression", "Peaks", "Gene Expression",
                                       "Peaks"])
    tenx_fixture("tenx_genes.h5", fixed, ["Gene Expression"] * 5)
elif kind == "corrupt":
    corrupt_fixtures()
elif kind == "renamed":
    renamed_fixture()
elif kind == "check":
    check(sys.argv[3])
)PY";

// Whether /usr/bin/python3 can import `modules` (e.g. "h5py" or "anndata").
bool PythonHas(const std::string& modules) {
  static std::map<std::string, bool>* cache = new std::map<std::string, bool>;
  auto it = cache->find(modules);
  if (it == cache->end()) {
    const std::string command =
        absl::StrCat(kPython, " -c 'import ", modules, "' > /dev/null 2>&1");
    it = cache->emplace(modules, std::system(command.c_str()) == 0).first;
  }
  return it->second;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// 4 cells x 3 peaks with one metadata column (one value missing).
Dataset SmallDataset() {
  Dataset ds;
  ds.matrix.rows = 4;
  ds.matrix.cols = 3;
  ds.matrix.indptr = {0, 2, 3, 4, 6};
  ds.matrix.indices = {0, 2, 1, 0, 1, 2};
  ds.matrix.values = {1, 2, 3, 1, 1, 4};
  ds.barcodes = {"AAAC-1", "AAAG-1", "AACT-1", "AAGT-1"};
  ds.peaks = {{"chr1", 100, 600}, {"chr1", 1000, 1500}, {"chr2", 50, 550}};
  ds.metadata.names = {"cell_type"};
  ds.metadata.columns = {{"T", "B", "T", ""}};
  return ds;
}

void ExpectSameMatrix(const CsrMatrix& actual, const CsrMatrix& expected) {
  EXPECT_EQ(actual.rows, expected.rows);
  EXPECT_EQ(actual.cols, expected.cols);
  EXPECT_EQ(actual.indptr, expected.indptr);
  EXPECT_EQ(actual.indices, expected.indices);
  EXPECT_EQ(actual.values, expected.values);
}

class Hdf5FormatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/hdf5_formats_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ::mkdir(dir_.c_str(), 0755);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return absl::StrCat(dir_, "/", name); }

  // Runs the fixture script with `args`; on failure the assertion carries Python's output.
  ::testing::AssertionResult RunFixtures(const std::string& args) {
    const std::string script = Path("fixtures.py");
    std::ofstream(script) << kFixtureScript;
    const std::string log = Path("python.log");
    const std::string command =
        absl::StrCat(kPython, " ", script, " ", dir_, " ", args, " > ", log, " 2>&1");
    if (std::system(command.c_str()) == 0) return ::testing::AssertionSuccess();
    std::stringstream output;
    output << std::ifstream(log).rdbuf();
    return ::testing::AssertionFailure() << command << " failed:\n" << output.str();
  }

  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    if (DIR* d = ::opendir(dir_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') names.push_back(e->d_name);
      }
      ::closedir(d);
    }
    return names;
  }

  // The granja dataset with a 600 x 10 embedding whose entry (i, j) is i / 2 + j.
  static Dataset GranjaWithEmbedding() {
    auto ds = LoadDataset(kGranja);
    EXPECT_TRUE(ds.ok()) << ds.status();
    if (!ds.ok()) return Dataset();
    DenseMatrix& e = ds->obsm["X_flsailer"];
    e.rows = ds->matrix.rows;
    e.cols = 10;
    for (int64_t i = 0; i < e.rows; ++i) {
      for (int64_t j = 0; j < e.cols; ++j) e.data.push_back(0.5f * i + j);
    }
    return *std::move(ds);
  }

  std::string dir_;
};

TEST_F(Hdf5FormatsTest, RoundTripsRealData) {
  const Dataset ds = GranjaWithEmbedding();
  ASSERT_EQ(ds.matrix.rows, 600);
  const std::string path = Path("granja.h5ad");
  ASSERT_TRUE(WriteH5ad(path, ds).ok());
  EXPECT_THAT(Files(), ElementsAre("granja.h5ad"));  // no temporary left behind

  auto back = ReadH5ad(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameMatrix(back->matrix, ds.matrix);
  EXPECT_EQ(back->matrix.nnz(), 46359);
  EXPECT_EQ(back->barcodes, ds.barcodes);
  EXPECT_EQ(back->peaks, ds.peaks);
  EXPECT_EQ(back->metadata.names, ds.metadata.names);
  EXPECT_EQ(back->metadata.names.size(), 6u);
  EXPECT_EQ(back->metadata.columns, ds.metadata.columns);
  ASSERT_EQ(back->obsm.count("X_flsailer"), 1u);
  EXPECT_EQ(back->obsm.at("X_flsailer").cols, 10);
  EXPECT_EQ(back->obsm.at("X_flsailer").data, ds.obsm.at("X_flsailer").data);
  EXPECT_EQ(back->source, path);

  // LoadDataset picks the format from the extension and validates.
  auto loaded = LoadDataset(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->matrix.indices, ds.matrix.indices);
}

TEST_F(Hdf5FormatsTest, AnndataReadsWrittenFile) {
  if (!PythonHas("anndata")) GTEST_SKIP() << kPython << " cannot import anndata";
  const Dataset ds = GranjaWithEmbedding();
  const std::string path = Path("granja.h5ad");
  ASSERT_TRUE(WriteH5ad(path, ds).ok());
  ASSERT_TRUE(RunFixtures(absl::StrCat("check ", path)));
  const std::vector<std::string> facts = ReadLines(Path("facts.txt"));
  double sum = 0;
  for (double s : ds.matrix.RowSums()) sum += s;
  EXPECT_THAT(facts, Contains("warnings 0 []"));
  EXPECT_THAT(facts, Contains("shape 600 5000"));
  EXPECT_THAT(facts, Contains("format csr"));
  EXPECT_THAT(facts, Contains("nnz 46359"));
  EXPECT_THAT(facts, Contains("dtype float32"));
  EXPECT_THAT(facts, Contains(absl::StrCat("sum ", static_cast<int64_t>(sum))));
  EXPECT_THAT(facts,
              Contains(absl::StrCat("obs_names ", ds.barcodes.front(), " ", ds.barcodes.back())));
  EXPECT_THAT(facts, Contains(absl::StrCat("var_names ", PeakName(ds.peaks.front()), " ",
                                           PeakName(ds.peaks.back()))));
  EXPECT_THAT(facts, Contains(absl::StrCat("var ", ds.peaks.back().chrom, " ",
                                           ds.peaks.back().start, " ", ds.peaks.back().end)));
  for (const char* type : {"01_HSC", "05_CMP.LMPP", "07_GMP", "15_CLP.2", "17_B", "19_CD8.N"}) {
    EXPECT_THAT(facts, Contains(absl::StrCat("cell_type ", type, " 100")));
  }
  for (const std::string& name : ds.metadata.names) {
    EXPECT_THAT(facts, Contains(absl::StrCat("column ", name, " category")));
  }
  EXPECT_THAT(facts, Contains("obsm 600 10 float32 301.5"));  // 599 / 2 + 2
}

// Compares a dataset read from the Python-written fixtures with what Python wrote beside them.
void ExpectMatchesPythonSide(const Dataset& ds, const std::string& dir) {
  MtxReadOptions options;
  options.cells = 50;
  options.peaks = 40;
  auto expected = ReadMatrixMarket(dir + "/expected.mtx", options);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ExpectSameMatrix(ds.matrix, *expected);

  std::vector<std::string> barcodes;
  std::vector<std::string> obs = ReadLines(dir + "/obs.tsv");
  for (size_t i = 1; i < obs.size(); ++i) {
    barcodes.push_back(std::vector<std::string>(absl::StrSplit(obs[i], '\t'))[0]);
  }
  EXPECT_EQ(ds.barcodes, barcodes);
  auto metadata = ReadCellMetadata(dir + "/obs.tsv", ds.barcodes);
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  EXPECT_THAT(ds.metadata.names,
              ElementsAre("cell_type", "n_peaks", "score", "alias", "doublet", "umis"));
  EXPECT_EQ(ds.metadata.names, metadata->names);
  EXPECT_EQ(ds.metadata.columns, metadata->columns);
  EXPECT_EQ(ds.metadata.columns[0][3], "");   // NaN category
  EXPECT_EQ(ds.metadata.columns[2][0], "2");  // integral float, no decimals
  EXPECT_THAT(ds.metadata.columns[4], Contains("True"));
  EXPECT_EQ(ds.metadata.columns[5][0], "");  // masked entry of a nullable integer column
  EXPECT_EQ(ds.metadata.columns[5][1], "10");

  std::vector<std::string> peak_names;
  for (const Peak& p : ds.peaks) peak_names.push_back(PeakName(p));
  EXPECT_EQ(peak_names, ReadLines(dir + "/var.txt"));
}

TEST_F(Hdf5FormatsTest, ReadsPythonWrittenCsr) {
  if (!PythonHas("anndata")) GTEST_SKIP() << kPython << " cannot import anndata";
  ASSERT_TRUE(RunFixtures("anndata"));
  auto ds = ReadH5ad(Path("csr.h5ad"));
  ASSERT_TRUE(ds.ok()) << ds.status();
  ExpectMatchesPythonSide(*ds, dir_);
  auto loaded = LoadDataset(Path("csr.h5ad"));
  EXPECT_TRUE(loaded.ok()) << loaded.status();
}

TEST_F(Hdf5FormatsTest, ReadsPythonWrittenCsc) {
  if (!PythonHas("anndata")) GTEST_SKIP() << kPython << " cannot import anndata";
  ASSERT_TRUE(RunFixtures("anndata"));
  auto ds = ReadH5ad(Path("csc.h5ad"));
  ASSERT_TRUE(ds.ok()) << ds.status();
  ExpectMatchesPythonSide(*ds, dir_);
}

TEST_F(Hdf5FormatsTest, ReadsPythonWrittenDense) {
  if (!PythonHas("anndata")) GTEST_SKIP() << kPython << " cannot import anndata";
  ASSERT_TRUE(RunFixtures("anndata"));
  for (const char* name : {"dense.h5ad", "dense_int.h5ad"}) {
    SCOPED_TRACE(name);
    auto ds = ReadH5ad(Path(name));
    ASSERT_TRUE(ds.ok()) << ds.status();
    ExpectMatchesPythonSide(*ds, dir_);
    EXPECT_TRUE(ds->matrix.Validate().ok());
  }
}

TEST_F(Hdf5FormatsTest, CsrCscAndDenseAgreeAcrossChunks) {
  if (!PythonHas("anndata")) GTEST_SKIP() << kPython << " cannot import anndata";
  ASSERT_TRUE(RunFixtures("chunked"));
  auto csr = ReadH5ad(Path("chunked_csr.h5ad"));
  ASSERT_TRUE(csr.ok()) << csr.status();
  auto csc = ReadH5ad(Path("chunked_csc.h5ad"));
  ASSERT_TRUE(csc.ok()) << csc.status();
  EXPECT_EQ(csr->matrix.nnz(), 1500000);
  ExpectSameMatrix(csc->matrix, csr->matrix);
  EXPECT_TRUE(csc->matrix.Validate().ok());
  auto dense = ReadH5ad(Path("chunked_dense.h5ad"));  // 3000 x 2000: six blocks of rows
  ASSERT_TRUE(dense.ok()) << dense.status();
  ExpectSameMatrix(dense->matrix, csr->matrix);
}

TEST_F(Hdf5FormatsTest, ReadsAnndata07Layout) {
  if (!PythonHas("h5py")) GTEST_SKIP() << kPython << " cannot import h5py";
  ASSERT_TRUE(RunFixtures("legacy"));
  auto ds = ReadH5ad(Path("legacy07.h5ad"));
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->barcodes, ElementsAre("c0", "c1", "c2", "c3", "c4"));
  EXPECT_THAT(ds->peaks,
              ElementsAre(Peak{"chr2", 10, 20}, Peak{"chr2", 500, 900}, Peak{"chrX", 7, 70}));
  EXPECT_THAT(ds->metadata.names, ElementsAre("cell_type"));
  EXPECT_THAT(ds->metadata.columns[0], ElementsAre("T", "B", "", "T", "B"));
  EXPECT_THAT(ds->matrix.indptr, ElementsAre(0, 2, 2, 3, 6, 7));
  EXPECT_THAT(ds->matrix.indices, ElementsAre(0, 2, 1, 0, 1, 2, 2));
  EXPECT_THAT(ds->matrix.values, ElementsAre(1, 3, 2, 1, 1, 1, 5));
}

void ExpectTenxFixture(const absl::StatusOr<Dataset>& ds) {
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->barcodes, ElementsAre("AAAC-1", "AAAG-1", "AACT-1"));
  EXPECT_THAT(ds->peaks,
              ElementsAre(Peak{"chr1", 100, 600}, Peak{"chr1", 1000, 1500}, Peak{"chr2", 50, 550}));
  EXPECT_EQ(ds->matrix.rows, 3);
  EXPECT_EQ(ds->matrix.cols, 3);
  // Genes dropped, cell 0 sorted, cell 1's duplicate summed and explicit zero dropped.
  EXPECT_THAT(ds->matrix.indptr, ElementsAre(0, 2, 3, 3));
  EXPECT_THAT(ds->matrix.indices, ElementsAre(0, 2, 1));
  EXPECT_THAT(ds->matrix.values, ElementsAre(1, 2, 4));
  EXPECT_TRUE(ds->matrix.Validate().ok());
}

TEST_F(Hdf5FormatsTest, ReadsTenxH5KeepingPeaksOnly) {
  if (!PythonHas("h5py")) GTEST_SKIP() << kPython << " cannot import h5py";
  ASSERT_TRUE(RunFixtures("tenx"));
  {
    SCOPED_TRACE("fixed-length strings");
    ExpectTenxFixture(ReadTenxH5(Path("tenx_fixed.h5")));
  }
  {
    SCOPED_TRACE("variable-length strings");
    ExpectTenxFixture(ReadTenxH5(Path("tenx_vlen.h5")));
  }
  {
    SCOPED_TRACE("LoadDataset");
    ExpectTenxFixture(LoadDataset(Path("tenx_fixed.h5")));
  }
  auto genes = ReadTenxH5(Path("tenx_genes.h5"));
  ASSERT_FALSE(genes.ok());
  EXPECT_THAT(genes.status().message(), HasSubstr(Path("tenx_genes.h5")));
  EXPECT_THAT(genes.status().message(), HasSubstr("no features of type 'Peaks'"));
}

TEST_F(Hdf5FormatsTest, RoundTripsBinaryMatrixMissingValuesAndManyCategories) {
  Dataset ds = SmallDataset();
  ds.matrix.values.clear();            // binary
  ds.matrix.indptr = {0, 2, 2, 3, 5};  // an empty cell
  ds.matrix.indices = {0, 2, 0, 1, 2};
  std::vector<std::string> many;
  for (int i = 0; i < 4; ++i) many.push_back(absl::StrCat("v", i * 100));
  ds.metadata.names.push_back("many");
  ds.metadata.columns.push_back(many);
  // Over 128 distinct values needs 16-bit codes: pad the table with more cells.
  ds.matrix.rows = 300;
  ds.matrix.indptr.resize(301, 5);
  for (int i = 4; i < 300; ++i) {
    ds.barcodes.push_back(absl::StrCat("cell", i));
    ds.metadata.columns[0].push_back(i % 2 ? "T" : "");
    ds.metadata.columns[1].push_back(absl::StrCat("v", i * 100));
  }
  const std::string path = Path("binary.h5ad");
  ASSERT_TRUE(WriteH5ad(path, ds).ok());
  auto back = ReadH5ad(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->matrix.is_binary());
  ExpectSameMatrix(back->matrix, ds.matrix);
  EXPECT_EQ(back->metadata.columns, ds.metadata.columns);
  EXPECT_EQ(back->barcodes, ds.barcodes);
}

TEST_F(Hdf5FormatsTest, RoundTripsMatrixLargerThanOneChunk) {
  // 3000 cells x 2000 peaks, 500 entries per cell: 1.5M entries, so rows straddle the chunks.
  Dataset ds;
  ds.matrix.rows = 3000;
  ds.matrix.cols = 2000;
  for (int64_t r = 0; r < ds.matrix.rows; ++r) {
    for (int32_t k = 0; k < 500; ++k) {
      ds.matrix.indices.push_back(static_cast<int32_t>((r + 4 * k) % 2000));
      ds.matrix.values.push_back(static_cast<float>(1 + (r + k) % 7));
    }
    std::sort(ds.matrix.indices.end() - 500, ds.matrix.indices.end());
    ds.matrix.indptr.push_back(ds.matrix.nnz());
    ds.barcodes.push_back(absl::StrCat("cell", r));
  }
  for (int64_t j = 0; j < ds.matrix.cols; ++j) ds.peaks.push_back({"chr1", 10 * j, 10 * j + 5});
  ASSERT_TRUE(ds.matrix.Validate().ok());
  const std::string path = Path("chunked.h5ad");
  ASSERT_TRUE(WriteH5ad(path, ds).ok());
  auto back = ReadH5ad(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameMatrix(back->matrix, ds.matrix);
}

TEST_F(Hdf5FormatsTest, RejectsMissingTextAndTruncatedFiles) {
  auto missing = ReadH5ad(Path("missing.h5ad"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(Path("missing.h5ad")));

  const std::string text = Path("text.h5ad");
  std::ofstream(text) << "barcode\tcell_type\nAAAC-1\tT\n";
  for (const auto& result : {ReadH5ad(text), ReadTenxH5(text)}) {
    ASSERT_FALSE(result.ok());
    EXPECT_THAT(result.status().message(), HasSubstr(text));
    EXPECT_THAT(result.status().message(), HasSubstr("not a readable HDF5 file"));
  }

  const Dataset ds = GranjaWithEmbedding();
  const std::string truncated = Path("truncated.h5ad");
  ASSERT_TRUE(WriteH5ad(truncated, ds).ok());
  struct stat st;
  ASSERT_EQ(::stat(truncated.c_str(), &st), 0);
  ASSERT_EQ(::truncate(truncated.c_str(), st.st_size / 2), 0);
  auto result = ReadH5ad(truncated);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr(truncated));
  EXPECT_THAT(result.status().message(), HasSubstr("truncated"));
}

TEST_F(Hdf5FormatsTest, ReadsPeaksFromSignacStyleVarColumns) {
  if (!PythonHas("h5py")) GTEST_SKIP() << kPython << " cannot import h5py";
  const Dataset expected = SmallDataset();
  ASSERT_TRUE(WriteH5ad(Path("base.h5ad"), expected).ok());
  ASSERT_TRUE(RunFixtures("renamed"));
  auto ds = ReadH5ad(Path("seqnames.h5ad"));
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->peaks, expected.peaks);
  ExpectSameMatrix(ds->matrix, expected.matrix);
}

TEST_F(Hdf5FormatsTest, RejectsMalformedContent) {
  if (!PythonHas("h5py")) GTEST_SKIP() << kPython << " cannot import h5py";
  ASSERT_TRUE(WriteH5ad(Path("base.h5ad"), SmallDataset()).ok());
  ASSERT_TRUE(ReadH5ad(Path("base.h5ad")).ok());
  ASSERT_TRUE(RunFixtures("corrupt"));
  const struct {
    const char* file;
    const char* object;
    const char* what;
  } kCases[] = {
      {"dense_shape.h5ad", ": /X: ", "dense X is 4 x 2 but obs has 4 rows and var 3"},
      {"dense_nan.h5ad", ": /X: ", "cell 1, peak 2: value nan is not a finite non-negative"},
      {"text_x.h5ad", ": /X: ", "expected numbers"},
      {"index_range.h5ad", ": /X/indices: ", "index 7 outside [0, 3)"},
      {"indptr.h5ad", ": /X/indptr: ", "decreases at position 2"},
      {"nan.h5ad", ": /X/data: ", "value nan is not a finite non-negative number"},
      {"shape.h5ad", ": /X: ", "shape attribute is 5 x 3 but obs has 4 rows"},
      {"compound_obs.h5ad", ": /obs: ", "written by anndata < 0.7"},
      {"gene_var.h5ad", ": /var: ", "'ENSG0002' is not a peak name"},
      {"bad_code.h5ad", ": /obs/cell_type/codes: ", "code 9 outside [-1, 2)"},
      {"duplicate_barcode.h5ad", ": /obs/_index: ", "duplicate barcode 'AAAC-1' (cells 0 and 1)"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.file);
    auto result = ReadH5ad(Path(c.file));
    ASSERT_FALSE(result.ok());
    EXPECT_THAT(result.status().message(), HasSubstr(Path(c.file) + c.object));
    EXPECT_THAT(result.status().message(), HasSubstr(c.what));
  }
}

TEST_F(Hdf5FormatsTest, FailedWriteLeavesExistingFileAndNoTemporary) {
  const std::string path = Path("out.h5ad");
  ASSERT_TRUE(WriteH5ad(path, SmallDataset()).ok());

  Dataset bad = SmallDataset();
  bad.barcodes.pop_back();
  absl::Status status = WriteH5ad(path, bad);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat(path, ": not written: dataset: 3 barcodes")));

  Dataset slash = SmallDataset();
  slash.metadata.names[0] = "cell/type";
  status = WriteH5ad(path, slash);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("'cell/type'"));

  status = WriteH5ad(Path("no_such_dir/out.h5ad"), SmallDataset());
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(Path("no_such_dir/out.h5ad")));

  EXPECT_THAT(Files(), ElementsAre("out.h5ad"));
  auto back = ReadH5ad(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->barcodes.size(), 4u);
  EXPECT_THAT(back->metadata.columns[0], ElementsAre("T", "B", "T", ""));
}

}  // namespace
}  // namespace flsailer::data
