// HDF5 formats: 10x Cell Ranger .h5 and AnnData .h5ad readers, and the .h5ad writer.
//
// Every HDF5 call goes through RAII handles and checked helpers, so that any failure - a missing
// object, a wrong type, a corrupt or truncated file - becomes a Status naming the file and the
// object ("<file>: /X/indices: ..."), never a leaked handle. Sizes read from the file are checked
// before anything is allocated or indexed with them.
#include "libs/data/hdf5_formats.h"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"

namespace flsailer::data {
namespace {

// Elements per hyperslab: large enough to amortise HDF5's per-call cost, small enough that the
// scratch buffers stay a few MB.
constexpr int64_t kChunk = int64_t{1} << 20;
// Longest fixed-length string accepted (barcodes and peak names are far shorter).
constexpr size_t kMaxFixedString = 1 << 16;

// Owns one HDF5 identifier and closes it with the matching H5*close function.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);

  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      Close();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      close_ = o.close_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { Close(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; returns false if HDF5 reported an error (e.g. a failed flush of a file).
  bool Close() {
    if (id_ < 0) return true;
    return close_(std::exchange(id_, H5I_INVALID_HID)) >= 0;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// HDF5 prints its error stack to stderr by default; errors are reported through Status instead.
void SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

herr_t KeepInnermost(unsigned n, const H5E_error2_t* error, void* out) {
  if (n == 0 && error->desc != nullptr) *static_cast<std::string*>(out) = error->desc;
  return 0;
}

// The most specific message on HDF5's error stack ("truncated file: eof = ..."); clears it.
std::string Hdf5Reason() {
  std::string reason;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, KeepInnermost, &reason);
  H5Eclear2(H5E_DEFAULT);
  return reason;
}

herr_t ReclaimVlen(hid_t type, hid_t space, void* buffer) {
#if H5_VERSION_GE(1, 12, 0)
  return H5Treclaim(type, space, H5P_DEFAULT, buffer);
#else
  return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer);
#endif
}

// Variable-length string type in character set `cset` (invalid handle on failure).
Handle VlenStringType(H5T_cset_t cset) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  if (type.valid() &&
      (H5Tset_size(type.get(), H5T_VARIABLE) < 0 || H5Tset_cset(type.get(), cset) < 0)) {
    type.Close();
  }
  return type;
}

// Entries of `bytes_each` bytes that fit in physical memory: a corrupt size must fail with a
// message, not with std::bad_alloc.
int64_t MaxElements(size_t bytes_each) {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return INT64_MAX;
  return static_cast<int64_t>(pages) * page_size / static_cast<int64_t>(bytes_each);
}

std::string ChildPath(const std::string& parent, absl::string_view name) {
  return parent == "/" ? absl::StrCat("/", name) : absl::StrCat(parent, "/", name);
}

// Text of a fixed-length HDF5 string: up to the first NUL, or without trailing blanks.
absl::string_view FixedString(const char* p, size_t size, H5T_str_t pad) {
  if (pad == H5T_STR_SPACEPAD) {
    while (size > 0 && p[size - 1] == ' ') --size;
    return absl::string_view(p, size);
  }
  return absl::string_view(p, strnlen(p, size));
}

// Shortest text that reads back as `v`; integral values without decimals, NaN (pandas' missing
// value) as "".
template <typename T>
std::string FormatReal(T v) {
  if (std::isnan(v)) return "";
  if (v == std::trunc(v) && std::fabs(v) < 1e15) return absl::StrCat(static_cast<int64_t>(v));
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, result.ptr);
}

// The last step of both readers: trims the arrays to the `nnz` entries filled, sorts each row
// and sums duplicates; a matrix whose stored values are then all 1 is kept binary (half the
// memory, same matrix).
CsrMatrix FinishRead(int64_t nnz, CsrMatrix m) {
  m.indices.resize(static_cast<size_t>(nnz));
  m.values.resize(static_cast<size_t>(nnz));
  SortRowsAndSumDuplicates(&m);
  if (std::all_of(m.values.begin(), m.values.end(), [](float v) { return v == 1.0f; })) {
    std::vector<float>().swap(m.values);
  }
  return m;
}

inline bool IsValidValue(float v) { return v >= 0 && !std::isinf(v); }  // false for NaN

enum class Kind { kGroup, kDataset, kOther };

// Reads (or writes) elements [start, start + count) of a 1-D dataset from (to) `buffer`, of
// memory type `mem_type`. False on any HDF5 failure.
bool TransferSlab(hid_t dataset, hid_t mem_type, int64_t start, int64_t count, void* buffer,
                  bool write) {
  const hsize_t offset = static_cast<hsize_t>(start);
  const hsize_t n = static_cast<hsize_t>(count);
  Handle file_space(H5Dget_space(dataset), H5Sclose);
  Handle mem_space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  if (!file_space.valid() || !mem_space.valid() ||
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &offset, nullptr, &n, nullptr) < 0) {
    return false;
  }
  const herr_t status =
      write ? H5Dwrite(dataset, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, buffer)
            : H5Dread(dataset, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, buffer);
  return status >= 0;
}

// An open group or dataset and its path inside the file (for messages).
struct Object {
  Handle h;
  std::string path;
  Kind kind = Kind::kOther;
};

// The arrays of a compressed sparse matrix group, with `indptr` read and checked.
struct SparseArrays {
  Object data;
  Object indices;
  std::vector<int64_t> indptr;
  int64_t nnz = 0;
};

// Read access to one HDF5 file. Every error reads "<file>: <object>: <what>".
class Reader {
 public:
  static absl::StatusOr<Reader> Open(const std::string& path) {
    SilenceHdf5();
    if (IsDirectory(path)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, expected a file"));
    }
    if (!FileExists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file.valid()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not a readable HDF5 file (truncated or corrupt?): ", Hdf5Reason()));
    }
    Object root{Handle(H5Oopen(file.get(), "/", H5P_DEFAULT), H5Oclose), "/", Kind::kGroup};
    if (!root.h.valid()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": cannot open the root group: ", Hdf5Reason()));
    }
    return Reader(path, std::move(file), std::move(root));
  }

  const Object& root() const { return root_; }

  absl::Status Invalid(absl::string_view object, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ": ", object, ": ", what));
  }
  // A failed HDF5 call, with HDF5's own reason appended.
  absl::Status Failed(absl::string_view object, absl::string_view what) const {
    const std::string reason = Hdf5Reason();
    return Invalid(object, reason.empty() ? std::string(what) : absl::StrCat(what, ": ", reason));
  }

  bool Has(const Object& parent, const std::string& name) const {
    // Names come from the file itself (column-order): never let one be taken as a path.
    if (name.empty() || name == "." || name.find('/') != std::string::npos) return false;
    return H5Lexists(parent.h.get(), name.c_str(), H5P_DEFAULT) > 0;
  }

  absl::StatusOr<Object> Child(const Object& parent, const std::string& name) const {
    Object child;
    child.path = ChildPath(parent.path, name);
    if (!Has(parent, name)) return Invalid(child.path, "missing");
    child.h = Handle(H5Oopen(parent.h.get(), name.c_str(), H5P_DEFAULT), H5Oclose);
    if (!child.h.valid()) return Failed(child.path, "cannot open");
    const H5I_type_t type = H5Iget_type(child.h.get());
    child.kind = type == H5I_GROUP     ? Kind::kGroup
                 : type == H5I_DATASET ? Kind::kDataset
                                       : Kind::kOther;
    return child;
  }
  absl::StatusOr<Object> OpenGroup(const Object& parent, const std::string& name) const {
    FLS_ASSIGN_OR_RETURN(Object o, Child(parent, name));
    if (o.kind != Kind::kGroup) return Invalid(o.path, "expected a group");
    return o;
  }
  absl::StatusOr<Object> OpenDataset(const Object& parent, const std::string& name) const {
    FLS_ASSIGN_OR_RETURN(Object o, Child(parent, name));
    if (o.kind != Kind::kDataset) return Invalid(o.path, "expected a dataset");
    return o;
  }
  absl::StatusOr<std::vector<std::string>> ChildNames(const Object& group) const {
    std::vector<std::string> names;
    if (H5Literate(group.h.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, CollectName, &names) < 0) {
      return Failed(group.path, "cannot list members");
    }
    return names;
  }

  bool HasAttr(const Object& o, const char* name) const { return H5Aexists(o.h.get(), name) > 0; }

  // A string attribute stored as a scalar or an array (fixed-length or variable-length), or an
  // empty array of any type (h5py writes an empty list as float64[0]).
  absl::StatusOr<std::vector<std::string>> StringsAttr(const Object& o, const char* name) const {
    const std::string where = absl::StrCat(o.path, " attribute '", name, "'");
    Handle attr(H5Aopen(o.h.get(), name, H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) return Failed(where, "cannot open");
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    Handle space(H5Aget_space(attr.get()), H5Sclose);
    const hssize_t n = space.valid() ? H5Sget_simple_extent_npoints(space.get()) : -1;
    if (!type.valid() || n < 0) return Failed(where, "cannot read the type");
    std::vector<std::string> out;
    if (H5Tget_class(type.get()) != H5T_STRING) {
      if (n == 0) return out;
      return Invalid(where, "expected a string");
    }
    if (n > (1 << 20)) return Invalid(where, absl::StrCat(n, " strings: too many"));
    out.reserve(static_cast<size_t>(n));
    if (H5Tis_variable_str(type.get()) > 0) {
      Handle mem = VlenStringType(H5Tget_cset(type.get()));
      if (!mem.valid()) return Failed(where, "cannot make a string type");
      std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
      const absl::Status read = H5Aread(attr.get(), mem.get(), ptrs.data()) < 0
                                    ? Failed(where, "cannot read")
                                    : absl::OkStatus();
      if (read.ok()) {
        for (const char* p : ptrs) out.emplace_back(p != nullptr ? p : "");
      }
      ReclaimVlen(mem.get(), space.get(), ptrs.data());  // also after a partial read
      FLS_RETURN_IF_ERROR(read);
    } else {
      const size_t size = H5Tget_size(type.get());
      if (size == 0 || size > kMaxFixedString) return Invalid(where, "bad string length");
      std::vector<char> buf(size * static_cast<size_t>(n));
      if (H5Aread(attr.get(), type.get(), buf.data()) < 0) return Failed(where, "cannot read");
      const H5T_str_t pad = H5Tget_strpad(type.get());
      for (hssize_t i = 0; i < n; ++i) out.emplace_back(FixedString(&buf[i * size], size, pad));
    }
    return out;
  }
  absl::StatusOr<std::string> StringAttr(const Object& o, const char* name) const {
    FLS_ASSIGN_OR_RETURN(std::vector<std::string> values, StringsAttr(o, name));
    if (values.size() != 1) {
      return Invalid(absl::StrCat(o.path, " attribute '", name, "'"), "expected one string");
    }
    return std::move(values[0]);
  }
  absl::StatusOr<std::vector<int64_t>> IntegersAttr(const Object& o, const char* name) const {
    const std::string where = absl::StrCat(o.path, " attribute '", name, "'");
    Handle attr(H5Aopen(o.h.get(), name, H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) return Failed(where, "cannot open");
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    Handle space(H5Aget_space(attr.get()), H5Sclose);
    const hssize_t n = space.valid() ? H5Sget_simple_extent_npoints(space.get()) : -1;
    if (!type.valid() || n < 0) return Failed(where, "cannot read the type");
    if (H5Tget_class(type.get()) != H5T_INTEGER) return Invalid(where, "expected integers");
    if (n > 64) return Invalid(where, absl::StrCat(n, " values: too many"));
    std::vector<int64_t> values(static_cast<size_t>(n));
    if (H5Aread(attr.get(), H5T_NATIVE_INT64, values.data()) < 0) {
      return Failed(where, "cannot read");
    }
    return values;
  }
  // The object an object-reference attribute points to (anndata 0.7 categories).
  absl::StatusOr<Object> Dereference(const Object& o, const char* name) const {
    const std::string where = absl::StrCat(o.path, " attribute '", name, "'");
    Handle attr(H5Aopen(o.h.get(), name, H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) return Failed(where, "cannot open");
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    Handle space(H5Aget_space(attr.get()), H5Sclose);
    if (!type.valid() || !space.valid() || H5Tget_class(type.get()) != H5T_REFERENCE ||
        H5Sget_simple_extent_npoints(space.get()) != 1) {
      return Invalid(where, "expected one object reference");
    }
    hobj_ref_t ref;
    if (H5Aread(attr.get(), H5T_STD_REF_OBJ, &ref) < 0) return Failed(where, "cannot read");
    Object target;
    target.h = Handle(H5Rdereference2(o.h.get(), H5P_DEFAULT, H5R_OBJECT, &ref), H5Oclose);
    if (!target.h.valid()) return Failed(where, "dangling reference");
    if (H5Iget_type(target.h.get()) != H5I_DATASET) {
      return Invalid(where, "does not refer to a dataset");
    }
    target.kind = Kind::kDataset;
    char name_buf[1024];
    const ssize_t len = H5Iget_name(target.h.get(), name_buf, sizeof(name_buf));
    target.path =
        len > 0 ? std::string(name_buf, std::min<size_t>(len, sizeof(name_buf) - 1)) : where;
    return target;
  }

  H5T_class_t TypeClass(const Object& ds) const {
    Handle type(H5Dget_type(ds.h.get()), H5Tclose);
    return type.valid() ? H5Tget_class(type.get()) : H5T_NO_CLASS;
  }
  absl::Status RequireClass(const Object& ds, bool allow_float) const {
    const H5T_class_t c = TypeClass(ds);
    if (c == H5T_INTEGER || (allow_float && c == H5T_FLOAT)) return absl::OkStatus();
    return Invalid(ds.path, allow_float ? "expected numbers" : "expected integers");
  }

  // Number of elements of a 1-D dataset, when `bytes_each` bytes per element fit in memory.
  absl::StatusOr<int64_t> Length(const Object& ds, size_t bytes_each) const {
    Handle space(H5Dget_space(ds.h.get()), H5Sclose);
    if (!space.valid()) return Failed(ds.path, "cannot read the dataspace");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank != 1) return Invalid(ds.path, absl::StrCat("expected a 1-D array, found rank ", rank));
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space.get(), &n, nullptr);
    if (n > static_cast<hsize_t>(MaxElements(bytes_each))) {
      return Invalid(ds.path, absl::StrCat(n, " elements: more than fits in memory"));
    }
    return static_cast<int64_t>(n);
  }

  // Reads elements [start, start + count) of a 1-D dataset, converted to `mem_type`.
  absl::Status ReadSlab(const Object& ds, hid_t mem_type, int64_t start, int64_t count,
                        void* out) const {
    if (count == 0) return absl::OkStatus();
    if (!TransferSlab(ds.h.get(), mem_type, start, count, out, /*write=*/false)) {
      return Failed(ds.path,
                    absl::StrCat("cannot read elements [", start, ", ", start + count, ")"));
    }
    return absl::OkStatus();
  }

  template <typename T>
  absl::StatusOr<std::vector<T>> ReadAll(const Object& ds, hid_t mem_type) const {
    FLS_ASSIGN_OR_RETURN(const int64_t n, Length(ds, sizeof(T)));
    std::vector<T> out(static_cast<size_t>(n));
    for (int64_t start = 0; start < n; start += kChunk) {
      FLS_RETURN_IF_ERROR(
          ReadSlab(ds, mem_type, start, std::min(kChunk, n - start), out.data() + start));
    }
    return out;
  }

  // A 1-D string dataset, fixed-length (numpy |S, as 10x writes) or variable-length.
  absl::StatusOr<std::vector<std::string>> ReadStrings(const Object& ds) const {
    FLS_ASSIGN_OR_RETURN(const int64_t n, Length(ds, sizeof(std::string)));
    Handle type(H5Dget_type(ds.h.get()), H5Tclose);
    if (!type.valid() || H5Tget_class(type.get()) != H5T_STRING) {
      return Invalid(ds.path, "expected strings");
    }
    std::vector<std::string> out;
    out.reserve(static_cast<size_t>(n));
    constexpr int64_t kStrings = 1 << 16;
    if (H5Tis_variable_str(type.get()) > 0) {
      Handle mem = VlenStringType(H5Tget_cset(type.get()));
      if (!mem.valid()) return Failed(ds.path, "cannot make a string type");
      std::vector<char*> ptrs;
      for (int64_t start = 0; start < n; start += kStrings) {
        const int64_t count = std::min(kStrings, n - start);
        ptrs.assign(static_cast<size_t>(count), nullptr);
        absl::Status read = ReadSlab(ds, mem.get(), start, count, ptrs.data());
        if (read.ok()) {
          for (const char* p : ptrs) out.emplace_back(p != nullptr ? p : "");
        }
        const hsize_t dims = static_cast<hsize_t>(count);
        Handle space(H5Screate_simple(1, &dims, nullptr), H5Sclose);
        ReclaimVlen(mem.get(), space.get(), ptrs.data());  // also after a partial read
        FLS_RETURN_IF_ERROR(read);
      }
    } else {
      const size_t size = H5Tget_size(type.get());
      if (size == 0 || size > kMaxFixedString) {
        return Invalid(ds.path, absl::StrCat("fixed-length strings of ", size, " bytes"));
      }
      const H5T_str_t pad = H5Tget_strpad(type.get());
      std::vector<char> buf;
      for (int64_t start = 0; start < n; start += kStrings) {
        const int64_t count = std::min(kStrings, n - start);
        buf.resize(size * static_cast<size_t>(count));
        FLS_RETURN_IF_ERROR(ReadSlab(ds, type.get(), start, count, buf.data()));
        for (int64_t i = 0; i < count; ++i) {
          out.emplace_back(FixedString(&buf[static_cast<size_t>(i) * size], size, pad));
        }
      }
    }
    return out;
  }

  // A data-frame column (or index) as text; nullopt for encodings that have no per-cell text
  // form (the caller skips or rejects those).
  absl::StatusOr<std::optional<std::vector<std::string>>> ReadColumn(const Object& o) const {
    if (o.kind == Kind::kGroup) {
      std::string encoding;
      if (HasAttr(o, "encoding-type")) {
        FLS_ASSIGN_OR_RETURN(encoding, StringAttr(o, "encoding-type"));
      }
      if (encoding == "categorical") {
        FLS_ASSIGN_OR_RETURN(Object codes, OpenDataset(o, "codes"));
        FLS_ASSIGN_OR_RETURN(Object categories, OpenDataset(o, "categories"));
        return Categorical(codes, categories);
      }
      if (absl::StartsWith(encoding, "nullable-")) return Nullable(o);
      return std::nullopt;
    }
    if (o.kind != Kind::kDataset) return std::nullopt;
    if (HasAttr(o, "categories")) {  // anndata 0.7: codes with a reference to the categories
      FLS_ASSIGN_OR_RETURN(Object categories, Dereference(o, "categories"));
      return Categorical(o, categories);
    }
    return ReadPlainColumn(o);
  }

  // data/indices/indptr of a compressed sparse group whose major axis has `major` entries.
  absl::StatusOr<SparseArrays> OpenSparse(const Object& group, int64_t major,
                                          absl::string_view major_name) const {
    SparseArrays a;
    FLS_ASSIGN_OR_RETURN(a.data, OpenDataset(group, "data"));
    FLS_ASSIGN_OR_RETURN(a.indices, OpenDataset(group, "indices"));
    FLS_ASSIGN_OR_RETURN(Object indptr, OpenDataset(group, "indptr"));
    FLS_RETURN_IF_ERROR(RequireClass(a.data, /*allow_float=*/true));
    FLS_RETURN_IF_ERROR(RequireClass(a.indices, /*allow_float=*/false));
    FLS_RETURN_IF_ERROR(RequireClass(indptr, /*allow_float=*/false));
    // 8 bytes per entry: the final int32 index and float value.
    FLS_ASSIGN_OR_RETURN(a.nnz, Length(a.indices, 8));
    FLS_ASSIGN_OR_RETURN(const int64_t data_length, Length(a.data, 8));
    if (data_length != a.nnz) {
      return Invalid(group.path,
                     absl::StrCat("data has ", data_length, " entries but indices has ", a.nnz));
    }
    FLS_ASSIGN_OR_RETURN(const int64_t indptr_length, Length(indptr, 8));
    if (indptr_length != major + 1) {
      return Invalid(indptr.path, absl::StrCat("has ", indptr_length, " offsets for ", major, " ",
                                               major_name, " (expected ", major + 1, ")"));
    }
    FLS_ASSIGN_OR_RETURN(a.indptr, ReadAll<int64_t>(indptr, H5T_NATIVE_INT64));
    if (a.indptr[0] != 0) {
      return Invalid(indptr.path, absl::StrCat("starts at ", a.indptr[0], ", expected 0"));
    }
    for (int64_t i = 0; i < major; ++i) {
      if (a.indptr[i + 1] < a.indptr[i]) {
        return Invalid(indptr.path, absl::StrCat("decreases at position ", i + 1, " (", a.indptr[i],
                                                 " then ", a.indptr[i + 1], ")"));
      }
    }
    if (a.indptr[major] != a.nnz) {
      return Invalid(indptr.path, absl::StrCat("ends at ", a.indptr[major], " but there are ",
                                               a.nnz, " entries"));
    }
    return a;
  }

  // A compressed sparse group whose major axis is the cells (h5ad csr_matrix, 10x CSC of
  // features x cells), streamed in chunks straight into the CSR arrays and compacted in place.
  // `column_of` (optional) maps a file index to an output column, or -1 to drop the entry.
  absl::StatusOr<CsrMatrix> ReadByCell(const Object& group, int64_t cells, int64_t minor,
                                       const std::vector<int32_t>* column_of, int64_t cols) const {
    FLS_ASSIGN_OR_RETURN(SparseArrays a, OpenSparse(group, cells, "cells"));
    CsrMatrix m;
    m.rows = cells;
    m.cols = cols;
    m.indptr = std::move(a.indptr);  // file offsets, rewritten row by row as entries are dropped
    m.indices.resize(static_cast<size_t>(a.nnz));
    m.values.resize(static_cast<size_t>(a.nnz));
    int64_t loaded = 0;  // entries [0, loaded) have been read
    int64_t out = 0;     // entries [0, out) are final
    int64_t begin = 0;
    for (int64_t r = 0; r < cells; ++r) {
      const int64_t end = m.indptr[r + 1];
      for (int64_t k = begin; k < end; ++k) {
        if (k == loaded) {
          const int64_t count = std::min(kChunk, a.nnz - k);
          FLS_RETURN_IF_ERROR(ReadSlab(a.indices, H5T_NATIVE_INT32, k, count, &m.indices[k]));
          FLS_RETURN_IF_ERROR(ReadSlab(a.data, H5T_NATIVE_FLOAT, k, count, &m.values[k]));
          loaded += count;
        }
        const int32_t j = m.indices[k];
        const float v = m.values[k];
        if (j < 0 || j >= minor) {
          return Invalid(a.indices.path, absl::StrCat("entry ", k, " (cell ", r, "): index ", j,
                                                      " outside [0, ", minor, ")"));
        }
        if (!IsValidValue(v)) {
          return Invalid(a.data.path, absl::StrCat("entry ", k, " (cell ", r, "): value ", v,
                                                   " is not a finite non-negative number"));
        }
        const int32_t col = column_of == nullptr ? j : (*column_of)[j];
        if (col < 0 || v == 0) continue;
        m.indices[out] = col;
        m.values[out] = v;
        ++out;
      }
      m.indptr[r + 1] = out;
      begin = end;
    }
    return FinishRead(out, std::move(m));
  }

  // A dense cells x peaks dataset (anndata writes X so when it is a numpy array), read a block
  // of rows at a time: only the non-zero entries are ever held whole.
  absl::StatusOr<CsrMatrix> ReadDense(const Object& ds, int64_t cells, int64_t peaks) const {
    FLS_RETURN_IF_ERROR(RequireClass(ds, /*allow_float=*/true));
    Handle file_space(H5Dget_space(ds.h.get()), H5Sclose);
    if (!file_space.valid()) return Failed(ds.path, "cannot read the dataspace");
    hsize_t dims[2] = {0, 0};
    const int rank = H5Sget_simple_extent_ndims(file_space.get());
    if (rank == 2) H5Sget_simple_extent_dims(file_space.get(), dims, nullptr);
    if (rank != 2 || dims[0] != static_cast<hsize_t>(cells) ||
        dims[1] != static_cast<hsize_t>(peaks)) {
      return Invalid(ds.path, absl::StrCat("dense X is ",
                                           rank == 2 ? absl::StrCat(dims[0], " x ", dims[1])
                                                     : absl::StrCat("of rank ", rank),
                                           " but obs has ", cells, " rows and var ", peaks));
    }
    CsrMatrix m;
    m.rows = cells;
    m.cols = peaks;
    m.indptr.assign(static_cast<size_t>(cells) + 1, 0);
    const int64_t block_rows = std::max<int64_t>(1, kChunk / std::max<int64_t>(peaks, 1));
    std::vector<float> block;
    for (int64_t first = 0; first < cells; first += block_rows) {
      const int64_t rows = std::min(block_rows, cells - first);
      block.resize(static_cast<size_t>(rows * peaks));
      const hsize_t offset[2] = {static_cast<hsize_t>(first), 0};
      const hsize_t count[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(peaks)};
      Handle mem_space(H5Screate_simple(2, count, nullptr), H5Sclose);
      if (!mem_space.valid() ||
          H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, offset, nullptr, count,
                              nullptr) < 0 ||
          H5Dread(ds.h.get(), H5T_NATIVE_FLOAT, mem_space.get(), file_space.get(), H5P_DEFAULT,
                  block.data()) < 0) {
        return Failed(ds.path, absl::StrCat("cannot read rows [", first, ", ", first + rows, ")"));
      }
      for (int64_t i = 0; i < rows; ++i) {
        const float* row = block.data() + i * peaks;
        for (int64_t j = 0; j < peaks; ++j) {
          if (!IsValidValue(row[j])) {
            return Invalid(ds.path, absl::StrCat("cell ", first + i, ", peak ", j, ": value ",
                                                 row[j], " is not a finite non-negative number"));
          }
          if (row[j] == 0) continue;
          m.indices.push_back(static_cast<int32_t>(j));
          m.values.push_back(row[j]);
        }
        m.indptr[first + i + 1] = static_cast<int64_t>(m.indices.size());
      }
    }
    const auto nnz = static_cast<int64_t>(m.indices.size());
    return FinishRead(nnz, std::move(m));
  }

  // A csc_matrix group (cells x peaks stored by peak), converted to CSR with a counting pass
  // over the cell indices and a fill pass, both in chunks: besides the final arrays only a
  // per-cell cursor and two chunk buffers are held.
  absl::StatusOr<CsrMatrix> ReadByPeak(const Object& group, int64_t cells, int64_t peaks) const {
    FLS_ASSIGN_OR_RETURN(SparseArrays a, OpenSparse(group, peaks, "peaks"));
    CsrMatrix m;
    m.rows = cells;
    m.cols = peaks;
    m.indptr.assign(static_cast<size_t>(cells) + 1, 0);
    const size_t buffer_size = static_cast<size_t>(std::min(kChunk, a.nnz));
    std::vector<int32_t> cell_buf(buffer_size);
    std::vector<float> value_buf(buffer_size);
    for (int64_t start = 0; start < a.nnz; start += kChunk) {
      const int64_t count = std::min(kChunk, a.nnz - start);
      FLS_RETURN_IF_ERROR(ReadSlab(a.indices, H5T_NATIVE_INT32, start, count, cell_buf.data()));
      for (int64_t i = 0; i < count; ++i) {
        const int32_t c = cell_buf[i];
        if (c < 0 || c >= cells) {
          return Invalid(a.indices.path, absl::StrCat("entry ", start + i, ": cell index ", c,
                                                      " outside [0, ", cells, ")"));
        }
        ++m.indptr[c + 1];
      }
    }
    for (int64_t r = 0; r < cells; ++r) m.indptr[r + 1] += m.indptr[r];

    m.indices.resize(static_cast<size_t>(a.nnz));
    m.values.resize(static_cast<size_t>(a.nnz));
    std::vector<int64_t> next(m.indptr.begin(), m.indptr.end() - 1);
    // Peaks are visited in order, so each cell's entries arrive sorted by peak.
    int32_t peak = 0;
    for (int64_t start = 0; start < a.nnz; start += kChunk) {
      const int64_t count = std::min(kChunk, a.nnz - start);
      FLS_RETURN_IF_ERROR(ReadSlab(a.indices, H5T_NATIVE_INT32, start, count, cell_buf.data()));
      FLS_RETURN_IF_ERROR(ReadSlab(a.data, H5T_NATIVE_FLOAT, start, count, value_buf.data()));
      for (int64_t i = 0; i < count; ++i) {
        const int64_t k = start + i;
        while (k >= a.indptr[peak + 1]) ++peak;
        const int32_t c = cell_buf[i];
        const float v = value_buf[i];
        if (!IsValidValue(v)) {
          return Invalid(a.data.path, absl::StrCat("entry ", k, " (peak ", peak, "): value ", v,
                                                   " is not a finite non-negative number"));
        }
        // Re-checked: the counting pass bounds every cursor only if the file did not change.
        if (c < 0 || c >= cells || next[c] >= m.indptr[c + 1]) {
          return Invalid(a.indices.path, absl::StrCat("entry ", k, ": changed while reading"));
        }
        const int64_t pos = next[c]++;
        m.indices[pos] = peak;
        m.values[pos] = v;
      }
    }
    std::vector<int64_t>().swap(next);
    std::vector<int32_t>().swap(cell_buf);
    std::vector<float>().swap(value_buf);

    // Drop explicit zeros and sum duplicates, compacting in place.
    int64_t out = 0;
    int64_t begin = 0;
    for (int64_t r = 0; r < cells; ++r) {
      const int64_t end = m.indptr[r + 1];
      for (int64_t k = begin; k < end; ++k) {
        if (m.values[k] == 0) continue;
        m.indices[out] = m.indices[k];
        m.values[out] = m.values[k];
        ++out;
      }
      m.indptr[r + 1] = out;
      begin = end;
    }
    return FinishRead(out, std::move(m));
  }

 private:
  Reader(std::string file, Handle handle, Object root)
      : file_(std::move(file)), handle_(std::move(handle)), root_(std::move(root)) {}

  static herr_t CollectName(hid_t, const char* name, const H5L_info_t*, void* out) {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  }

  // h5py's bool: an enum of int8 with members FALSE = 0 and TRUE = 1.
  static bool IsBoolEnum(hid_t type) {
    if (H5Tget_class(type) != H5T_ENUM || H5Tget_size(type) != 1 || H5Tget_nmembers(type) != 2) {
      return false;
    }
    int8_t value = 0;
    return H5Tenum_valueof(type, "FALSE", &value) >= 0 && value == 0 &&
           H5Tenum_valueof(type, "TRUE", &value) >= 0 && value == 1;
  }

  absl::StatusOr<std::vector<int8_t>> ReadBools(const Object& ds) const {
    Handle type(H5Dget_type(ds.h.get()), H5Tclose);
    if (!type.valid() || !IsBoolEnum(type.get())) return Invalid(ds.path, "expected booleans");
    return ReadAll<int8_t>(ds, type.get());
  }

  absl::StatusOr<std::optional<std::vector<std::string>>> ReadPlainColumn(const Object& ds) const {
    Handle type(H5Dget_type(ds.h.get()), H5Tclose);
    Handle space(H5Dget_space(ds.h.get()), H5Sclose);
    if (!type.valid() || !space.valid()) return Failed(ds.path, "cannot read the type");
    if (H5Sget_simple_extent_ndims(space.get()) != 1) return std::nullopt;
    std::vector<std::string> out;
    switch (H5Tget_class(type.get())) {
      case H5T_STRING: {
        FLS_ASSIGN_OR_RETURN(out, ReadStrings(ds));
        return out;
      }
      case H5T_INTEGER: {
        if (H5Tget_sign(type.get()) == H5T_SGN_NONE) {
          FLS_ASSIGN_OR_RETURN(const auto values, ReadAll<uint64_t>(ds, H5T_NATIVE_UINT64));
          out.reserve(values.size());
          for (uint64_t v : values) out.push_back(absl::StrCat(v));
        } else {
          FLS_ASSIGN_OR_RETURN(const auto values, ReadAll<int64_t>(ds, H5T_NATIVE_INT64));
          out.reserve(values.size());
          for (int64_t v : values) out.push_back(absl::StrCat(v));
        }
        return out;
      }
      case H5T_FLOAT: {
        if (H5Tget_size(type.get()) <= sizeof(float)) {
          FLS_ASSIGN_OR_RETURN(const auto values, ReadAll<float>(ds, H5T_NATIVE_FLOAT));
          out.reserve(values.size());
          for (float v : values) out.push_back(FormatReal(v));
        } else {
          FLS_ASSIGN_OR_RETURN(const auto values, ReadAll<double>(ds, H5T_NATIVE_DOUBLE));
          out.reserve(values.size());
          for (double v : values) out.push_back(FormatReal(v));
        }
        return out;
      }
      case H5T_ENUM: {
        if (!IsBoolEnum(type.get())) return std::nullopt;
        FLS_ASSIGN_OR_RETURN(const auto values, ReadBools(ds));
        out.reserve(values.size());
        for (int8_t v : values) out.emplace_back(v != 0 ? "True" : "False");  // as pandas prints
        return out;
      }
      default:
        return std::nullopt;
    }
  }

  // Codes into categories; code -1 (missing) becomes "".
  absl::StatusOr<std::optional<std::vector<std::string>>> Categorical(
      const Object& codes, const Object& categories) const {
    FLS_ASSIGN_OR_RETURN(const auto names, ReadPlainColumn(categories));
    if (!names.has_value()) return Invalid(categories.path, "categories of an unsupported type");
    FLS_RETURN_IF_ERROR(RequireClass(codes, /*allow_float=*/false));
    FLS_ASSIGN_OR_RETURN(const auto values, ReadAll<int64_t>(codes, H5T_NATIVE_INT64));
    const int64_t n_categories = static_cast<int64_t>(names->size());
    std::vector<std::string> out;
    out.reserve(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      const int64_t code = values[i];
      if (code < -1 || code >= n_categories) {
        return Invalid(codes.path, absl::StrCat("row ", i, ": code ", code, " outside [-1, ",
                                                n_categories, ")"));
      }
      out.push_back(code < 0 ? std::string() : (*names)[code]);
    }
    return out;
  }

  // anndata's nullable-integer / nullable-boolean / nullable-string-array: values + mask.
  absl::StatusOr<std::optional<std::vector<std::string>>> Nullable(const Object& group) const {
    FLS_ASSIGN_OR_RETURN(Object values, OpenDataset(group, "values"));
    FLS_ASSIGN_OR_RETURN(auto out, ReadPlainColumn(values));
    if (!out.has_value() || !Has(group, "mask")) return out;
    FLS_ASSIGN_OR_RETURN(Object mask_ds, OpenDataset(group, "mask"));
    FLS_ASSIGN_OR_RETURN(const auto mask, ReadBools(mask_ds));
    if (mask.size() != out->size()) {
      return Invalid(mask_ds.path,
                     absl::StrCat(mask.size(), " entries for ", out->size(), " values"));
    }
    for (size_t i = 0; i < mask.size(); ++i) {
      if (mask[i] != 0) (*out)[i].clear();
    }
    return out;
  }

  std::string file_;
  Handle handle_;
  Object root_;
};

// Barcodes must be non-empty and unique (they key metadata joins and result files).
absl::Status CheckBarcodes(const Reader& reader, absl::string_view path,
                           const std::vector<std::string>& barcodes) {
  absl::flat_hash_map<absl::string_view, size_t> first;
  first.reserve(barcodes.size());
  for (size_t i = 0; i < barcodes.size(); ++i) {
    if (barcodes[i].empty()) {
      return reader.Invalid(path, absl::StrCat("cell ", i, ": empty barcode"));
    }
    auto [it, inserted] = first.emplace(barcodes[i], i);
    if (!inserted) {
      return reader.Invalid(path, absl::StrCat("duplicate barcode '", barcodes[i], "' (cells ",
                                               it->second, " and ", i, ")"));
    }
  }
  return absl::OkStatus();
}

// The name of a data frame's index dataset (attribute _index, "_index" when absent).
absl::StatusOr<std::string> IndexName(const Reader& reader, const Object& frame) {
  if (!reader.HasAttr(frame, "_index")) return std::string("_index");
  return reader.StringAttr(frame, "_index");
}

// The index of obs or var as text; *path is set to its dataset path (for messages).
absl::StatusOr<std::vector<std::string>> ReadIndex(const Reader& reader, const Object& frame,
                                                   std::string* path) {
  FLS_ASSIGN_OR_RETURN(const std::string name, IndexName(reader, frame));
  FLS_ASSIGN_OR_RETURN(Object index, reader.Child(frame, name));
  *path = index.path;
  FLS_ASSIGN_OR_RETURN(auto values, reader.ReadColumn(index));
  if (!values.has_value()) return reader.Invalid(index.path, "index of an unsupported type");
  return std::move(*values);
}

// obs or var: a group (anndata >= 0.7), not the compound dataset older versions wrote.
absl::StatusOr<Object> OpenFrame(const Reader& reader, const std::string& name) {
  FLS_ASSIGN_OR_RETURN(Object frame, reader.Child(reader.root(), name));
  if (frame.kind == Kind::kDataset) {
    return reader.Invalid(frame.path,
                          "a compound dataset: unsupported (written by anndata < 0.7; "
                          "re-save the file with a current anndata)");
  }
  if (frame.kind != Kind::kGroup) return reader.Invalid(frame.path, "expected a group");
  return frame;
}

// Peaks from var columns chrom/start/end when present (also spelled as Signac and ArchR write
// them: seqnames, chromosome, chr; BED's chromStart/chromEnd), else from the var index names.
absl::StatusOr<std::vector<Peak>> ReadVarPeaks(const Reader& reader, const Object& var,
                                               const std::vector<std::string>& names) {
  auto first_present = [&](std::initializer_list<const char*> spellings) -> std::string {
    for (const char* name : spellings) {
      if (reader.Has(var, name)) return name;
    }
    return "";
  };
  const std::string chrom_col = first_present({"chrom", "seqnames", "chromosome", "chr"});
  const std::string start_col = first_present({"start", "chromStart"});
  const std::string end_col = first_present({"end", "chromEnd"});
  std::vector<Peak> peaks;
  peaks.reserve(names.size());
  if (!chrom_col.empty() && !start_col.empty() && !end_col.empty()) {
    FLS_ASSIGN_OR_RETURN(Object chrom_obj, reader.Child(var, chrom_col));
    FLS_ASSIGN_OR_RETURN(Object start_obj, reader.OpenDataset(var, start_col));
    FLS_ASSIGN_OR_RETURN(Object end_obj, reader.OpenDataset(var, end_col));
    FLS_ASSIGN_OR_RETURN(auto chroms, reader.ReadColumn(chrom_obj));
    if (!chroms.has_value()) return reader.Invalid(chrom_obj.path, "unsupported column type");
    FLS_RETURN_IF_ERROR(reader.RequireClass(start_obj, /*allow_float=*/false));
    FLS_RETURN_IF_ERROR(reader.RequireClass(end_obj, /*allow_float=*/false));
    FLS_ASSIGN_OR_RETURN(const auto starts, reader.ReadAll<int64_t>(start_obj, H5T_NATIVE_INT64));
    FLS_ASSIGN_OR_RETURN(const auto ends, reader.ReadAll<int64_t>(end_obj, H5T_NATIVE_INT64));
    if (chroms->size() != names.size() || starts.size() != names.size() ||
        ends.size() != names.size()) {
      return reader.Invalid(
          var.path, absl::StrCat("chrom/start/end have ", chroms->size(), "/", starts.size(), "/",
                                 ends.size(), " rows for ", names.size(), " var names"));
    }
    for (size_t j = 0; j < names.size(); ++j) {
      if ((*chroms)[j].empty() || starts[j] < 0 || starts[j] >= ends[j]) {
        return reader.Invalid(var.path, absl::StrCat("var ", j, " ('", names[j], "'): bad peak ",
                                                     (*chroms)[j], ":", starts[j], "-", ends[j]));
      }
      peaks.push_back(Peak{std::move((*chroms)[j]), starts[j], ends[j]});
    }
    return peaks;
  }
  for (size_t j = 0; j < names.size(); ++j) {
    auto peak = ParsePeakName(names[j]);
    if (!peak.ok()) {
      return reader.Invalid(var.path,
                            absl::StrCat("var ", j, ": '", names[j],
                                         "' is not a peak name (chrom:start-end) and var has no "
                                         "chrom/start/end columns"));
    }
    peaks.push_back(*std::move(peak));
  }
  return peaks;
}

absl::StatusOr<CellMetadata> ReadObsColumns(const Reader& reader, const Object& obs,
                                            int64_t cells) {
  FLS_ASSIGN_OR_RETURN(const std::string index_name, IndexName(reader, obs));
  std::vector<std::string> names;
  if (reader.HasAttr(obs, "column-order")) {
    FLS_ASSIGN_OR_RETURN(names, reader.StringsAttr(obs, "column-order"));
  } else {
    FLS_ASSIGN_OR_RETURN(std::vector<std::string> children, reader.ChildNames(obs));
    for (std::string& name : children) {
      if (name != index_name && name != "__categories") names.push_back(std::move(name));
    }
  }
  CellMetadata meta;
  for (const std::string& name : names) {
    if (!reader.Has(obs, name)) {
      return reader.Invalid(
          obs.path, absl::StrCat("column-order lists '", name, "' but there is no such column"));
    }
    FLS_ASSIGN_OR_RETURN(Object column, reader.Child(obs, name));
    FLS_ASSIGN_OR_RETURN(auto values, reader.ReadColumn(column));
    if (!values.has_value()) continue;  // no per-cell text form: not metadata FL-Sailer uses
    if (static_cast<int64_t>(values->size()) != cells) {
      return reader.Invalid(column.path,
                            absl::StrCat(values->size(), " rows for ", cells, " cells"));
    }
    meta.names.push_back(name);
    meta.columns.push_back(std::move(*values));
  }
  return meta;
}

// obsm entries that are 2-D numeric arrays with one row per cell (others are skipped).
absl::StatusOr<std::map<std::string, DenseMatrix>> ReadObsm(const Reader& reader, int64_t cells) {
  std::map<std::string, DenseMatrix> obsm;
  if (!reader.Has(reader.root(), "obsm")) return obsm;
  FLS_ASSIGN_OR_RETURN(Object group, reader.OpenGroup(reader.root(), "obsm"));
  FLS_ASSIGN_OR_RETURN(const std::vector<std::string> names, reader.ChildNames(group));
  for (const std::string& name : names) {
    FLS_ASSIGN_OR_RETURN(Object ds, reader.Child(group, name));
    if (ds.kind != Kind::kDataset || !reader.RequireClass(ds, /*allow_float=*/true).ok()) continue;
    Handle space(H5Dget_space(ds.h.get()), H5Sclose);
    hsize_t dims[2];
    if (!space.valid() || H5Sget_simple_extent_ndims(space.get()) != 2 ||
        H5Sget_simple_extent_dims(space.get(), dims, nullptr) < 0 ||
        static_cast<int64_t>(dims[0]) != cells) {
      continue;
    }
    if (dims[1] > 0 && dims[0] > static_cast<hsize_t>(MaxElements(sizeof(float))) / dims[1]) {
      return reader.Invalid(ds.path, "more than fits in memory");
    }
    DenseMatrix m;
    m.rows = static_cast<int64_t>(dims[0]);
    m.cols = static_cast<int64_t>(dims[1]);
    m.data.resize(static_cast<size_t>(m.rows * m.cols));
    if (!m.data.empty() &&
        H5Dread(ds.h.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.data.data()) < 0) {
      return reader.Failed(ds.path, "cannot read");
    }
    obsm.emplace(name, std::move(m));
  }
  return obsm;
}

// ----------------------------------------------------------------------------------------------
// Writing.

// Removes a file when destroyed, unless Keep() was called.
class RemoveOnExit {
 public:
  explicit RemoveOnExit(std::string path) : path_(std::move(path)) {}
  ~RemoveOnExit() {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  void Keep() { path_.clear(); }

 private:
  std::string path_;
};

// Writes the anndata 0.8 on-disk layout (as anndata/_io/specs/methods.py does).
class Writer {
 public:
  Writer(std::string file, hid_t handle) : file_(std::move(file)), handle_(handle) {}

  absl::Status Write(const Dataset& ds) {
    Object root{Handle(H5Oopen(handle_, "/", H5P_DEFAULT), H5Oclose), "/", Kind::kGroup};
    if (!root.h.valid()) return Failed("/", "cannot open the root group");
    FLS_RETURN_IF_ERROR(Encoding(root, "anndata", "0.1.0"));
    FLS_RETURN_IF_ERROR(WriteX(root, ds.matrix));
    FLS_RETURN_IF_ERROR(WriteObs(root, ds));
    FLS_RETURN_IF_ERROR(WriteVar(root, ds.peaks));
    FLS_ASSIGN_OR_RETURN(Object obsm, DictGroup(root, "obsm"));
    for (const auto& [name, m] : ds.obsm) {
      FLS_ASSIGN_OR_RETURN(
          Object e, CreateDataset(obsm, name, H5T_IEEE_F32LE,
                                  {static_cast<hsize_t>(m.rows), static_cast<hsize_t>(m.cols)}));
      FLS_RETURN_IF_ERROR(WriteAll(e, H5T_NATIVE_FLOAT, m.data.data(), m.data.size()));
      FLS_RETURN_IF_ERROR(Encoding(e, "array", "0.2.0"));
    }
    for (const char* name : {"layers", "obsp", "uns", "varm", "varp"}) {
      FLS_RETURN_IF_ERROR(DictGroup(root, name).status());
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Failed(absl::string_view object, absl::string_view what) const {
    const std::string reason = Hdf5Reason();
    return absl::DataLossError(
        absl::StrCat(file_, ": ", object, ": ", what, reason.empty() ? "" : ": ", reason));
  }

  absl::StatusOr<Object> CreateGroup(const Object& parent, const std::string& name) {
    Object g{Handle(H5Gcreate2(parent.h.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                    H5Gclose),
             ChildPath(parent.path, name), Kind::kGroup};
    if (!g.h.valid()) return Failed(g.path, "cannot create group");
    return g;
  }
  absl::StatusOr<Object> DictGroup(const Object& parent, const std::string& name) {
    FLS_ASSIGN_OR_RETURN(Object g, CreateGroup(parent, name));
    FLS_RETURN_IF_ERROR(Encoding(g, "dict", "0.1.0"));
    return g;
  }

  absl::StatusOr<Object> CreateDataset(const Object& parent, const std::string& name,
                                       hid_t file_type, std::initializer_list<hsize_t> dims) {
    const std::string path = ChildPath(parent.path, name);
    Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.begin(), nullptr), H5Sclose);
    if (!space.valid()) return Failed(path, "cannot create dataspace");
    Object ds{Handle(H5Dcreate2(parent.h.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
                     H5Dclose),
              path, Kind::kDataset};
    if (!ds.h.valid()) return Failed(path, "cannot create dataset");
    return ds;
  }
  absl::Status WriteAll(const Object& ds, hid_t mem_type, const void* data, size_t n) {
    if (n == 0) return absl::OkStatus();
    if (H5Dwrite(ds.h.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
      return Failed(ds.path, "cannot write");
    }
    return absl::OkStatus();
  }
  absl::Status WriteSlab(const Object& ds, hid_t mem_type, int64_t start, int64_t count,
                         const void* data) {
    if (!TransferSlab(ds.h.get(), mem_type, start, count, const_cast<void*>(data),
                      /*write=*/true)) {
      return Failed(ds.path,
                    absl::StrCat("cannot write elements [", start, ", ", start + count, ")"));
    }
    return absl::OkStatus();
  }

  absl::Status Attr(const Object& o, const char* name, hid_t type, hid_t space, const void* value) {
    Handle attr(H5Acreate2(o.h.get(), name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.valid() || H5Awrite(attr.get(), type, value) < 0) {
      return Failed(o.path, absl::StrCat("cannot write attribute '", name, "'"));
    }
    return absl::OkStatus();
  }
  absl::Status StringAttr(const Object& o, const char* name, const std::string& value) {
    Handle type = VlenStringType(H5T_CSET_UTF8);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    if (!type.valid() || !space.valid()) return Failed(o.path, "cannot make a string type");
    const char* p = value.c_str();
    return Attr(o, name, type.get(), space.get(), &p);
  }
  // An array of strings; empty as float64[0], which is what h5py writes for an empty list.
  absl::Status StringsAttr(const Object& o, const char* name,
                           const std::vector<std::string>& values) {
    const hsize_t n = values.size();
    Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    if (!space.valid()) return Failed(o.path, "cannot create dataspace");
    if (values.empty()) {
      Handle attr(
          H5Acreate2(o.h.get(), name, H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
          H5Aclose);
      if (!attr.valid()) return Failed(o.path, absl::StrCat("cannot write attribute '", name, "'"));
      return absl::OkStatus();
    }
    Handle type = VlenStringType(H5T_CSET_UTF8);
    if (!type.valid()) return Failed(o.path, "cannot make a string type");
    std::vector<const char*> ptrs;
    ptrs.reserve(values.size());
    for (const std::string& v : values) ptrs.push_back(v.c_str());
    return Attr(o, name, type.get(), space.get(), ptrs.data());
  }
  absl::Status Encoding(const Object& o, const char* type, const char* version) {
    FLS_RETURN_IF_ERROR(StringAttr(o, "encoding-type", type));
    return StringAttr(o, "encoding-version", version);
  }

  // A 1-D variable-length UTF-8 string array (anndata "string-array").
  absl::Status Strings(const Object& parent, const std::string& name,
                       const std::vector<std::string>& values) {
    Handle type = VlenStringType(H5T_CSET_UTF8);
    if (!type.valid()) return Failed(parent.path, "cannot make a string type");
    FLS_ASSIGN_OR_RETURN(Object ds, CreateDataset(parent, name, type.get(), {values.size()}));
    std::vector<const char*> ptrs;
    ptrs.reserve(values.size());
    for (const std::string& v : values) ptrs.push_back(v.c_str());
    FLS_RETURN_IF_ERROR(WriteAll(ds, type.get(), ptrs.data(), ptrs.size()));
    return Encoding(ds, "string-array", "0.2.0");
  }
  absl::Status Int64s(const Object& parent, const std::string& name,
                      const std::vector<int64_t>& values) {
    FLS_ASSIGN_OR_RETURN(Object ds, CreateDataset(parent, name, H5T_STD_I64LE, {values.size()}));
    FLS_RETURN_IF_ERROR(WriteAll(ds, H5T_NATIVE_INT64, values.data(), values.size()));
    return Encoding(ds, "array", "0.2.0");
  }
  // Sorted categories (as pandas makes them) and the smallest integer codes; "" is missing (-1).
  absl::Status Categorical(const Object& parent, const std::string& name,
                           const std::vector<std::string>& values) {
    absl::flat_hash_map<absl::string_view, int32_t> code_of;
    for (const std::string& v : values) {
      if (!v.empty()) code_of.emplace(v, 0);
    }
    std::vector<std::string> categories;
    categories.reserve(code_of.size());
    for (const auto& [v, code] : code_of) categories.emplace_back(v);
    std::sort(categories.begin(), categories.end());
    for (size_t i = 0; i < categories.size(); ++i) code_of[categories[i]] = static_cast<int32_t>(i);
    std::vector<int32_t> codes;
    codes.reserve(values.size());
    for (const std::string& v : values) codes.push_back(v.empty() ? -1 : code_of[v]);

    FLS_ASSIGN_OR_RETURN(Object g, CreateGroup(parent, name));
    FLS_RETURN_IF_ERROR(Encoding(g, "categorical", "0.2.0"));
    Handle bool_type(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
    const int8_t false_value = 0;
    const int8_t true_value = 1;
    Handle scalar(H5Screate(H5S_SCALAR), H5Sclose);
    if (!bool_type.valid() || !scalar.valid() ||
        H5Tenum_insert(bool_type.get(), "FALSE", &false_value) < 0 ||
        H5Tenum_insert(bool_type.get(), "TRUE", &true_value) < 0) {
      return Failed(g.path, "cannot make a bool type");
    }
    FLS_RETURN_IF_ERROR(Attr(g, "ordered", bool_type.get(), scalar.get(), &false_value));
    FLS_RETURN_IF_ERROR(Strings(g, "categories", categories));
    const size_t n = categories.size();
    const hid_t code_type = n <= 128 ? H5T_STD_I8LE : n <= 32768 ? H5T_STD_I16LE : H5T_STD_I32LE;
    FLS_ASSIGN_OR_RETURN(Object ds, CreateDataset(g, "codes", code_type, {codes.size()}));
    FLS_RETURN_IF_ERROR(WriteAll(ds, H5T_NATIVE_INT32, codes.data(), codes.size()));
    return Encoding(ds, "array", "0.2.0");
  }
  absl::Status DataFrameAttrs(const Object& g, const std::vector<std::string>& columns) {
    FLS_RETURN_IF_ERROR(Encoding(g, "dataframe", "0.2.0"));
    FLS_RETURN_IF_ERROR(StringAttr(g, "_index", "_index"));
    return StringsAttr(g, "column-order", columns);
  }

  absl::Status WriteX(const Object& root, const CsrMatrix& m) {
    FLS_ASSIGN_OR_RETURN(Object x, CreateGroup(root, "X"));
    FLS_RETURN_IF_ERROR(Encoding(x, "csr_matrix", "0.1.0"));
    const int64_t shape[2] = {m.rows, m.cols};
    const hsize_t two = 2;
    Handle space(H5Screate_simple(1, &two, nullptr), H5Sclose);
    if (!space.valid()) return Failed(x.path, "cannot create dataspace");
    FLS_RETURN_IF_ERROR(Attr(x, "shape", H5T_STD_I64LE, space.get(), shape));

    const size_t nnz = m.indices.size();
    FLS_ASSIGN_OR_RETURN(Object data, CreateDataset(x, "data", H5T_IEEE_F32LE, {nnz}));
    if (m.is_binary()) {
      const std::vector<float> ones(static_cast<size_t>(std::min<int64_t>(kChunk, nnz)), 1.0f);
      for (int64_t start = 0; start < m.nnz(); start += kChunk) {
        FLS_RETURN_IF_ERROR(WriteSlab(data, H5T_NATIVE_FLOAT, start,
                                      std::min(kChunk, m.nnz() - start), ones.data()));
      }
    } else {
      FLS_RETURN_IF_ERROR(WriteAll(data, H5T_NATIVE_FLOAT, m.values.data(), nnz));
    }
    FLS_ASSIGN_OR_RETURN(Object indices, CreateDataset(x, "indices", H5T_STD_I32LE, {nnz}));
    FLS_RETURN_IF_ERROR(WriteAll(indices, H5T_NATIVE_INT32, m.indices.data(), nnz));
    FLS_ASSIGN_OR_RETURN(Object indptr,
                         CreateDataset(x, "indptr", H5T_STD_I64LE, {m.indptr.size()}));
    return WriteAll(indptr, H5T_NATIVE_INT64, m.indptr.data(), m.indptr.size());
  }

  absl::Status WriteObs(const Object& root, const Dataset& ds) {
    FLS_ASSIGN_OR_RETURN(Object obs, CreateGroup(root, "obs"));
    FLS_RETURN_IF_ERROR(DataFrameAttrs(obs, ds.metadata.names));
    FLS_RETURN_IF_ERROR(Strings(obs, "_index", ds.barcodes));
    for (size_t c = 0; c < ds.metadata.names.size(); ++c) {
      FLS_RETURN_IF_ERROR(Categorical(obs, ds.metadata.names[c], ds.metadata.columns[c]));
    }
    return absl::OkStatus();
  }

  absl::Status WriteVar(const Object& root, const std::vector<Peak>& peaks) {
    FLS_ASSIGN_OR_RETURN(Object var, CreateGroup(root, "var"));
    FLS_RETURN_IF_ERROR(DataFrameAttrs(var, {"chrom", "start", "end"}));
    std::vector<std::string> text;
    text.reserve(peaks.size());
    for (const Peak& p : peaks) text.push_back(PeakName(p));
    FLS_RETURN_IF_ERROR(Strings(var, "_index", text));
    for (size_t j = 0; j < peaks.size(); ++j) text[j] = peaks[j].chrom;
    FLS_RETURN_IF_ERROR(Categorical(var, "chrom", text));
    std::vector<int64_t> coordinates(peaks.size());
    for (size_t j = 0; j < peaks.size(); ++j) coordinates[j] = peaks[j].start;
    FLS_RETURN_IF_ERROR(Int64s(var, "start", coordinates));
    for (size_t j = 0; j < peaks.size(); ++j) coordinates[j] = peaks[j].end;
    return Int64s(var, "end", coordinates);
  }

  std::string file_;
  hid_t handle_;
};

// Names that become HDF5 links: anndata rejects "_index" as a column, and HDF5 names cannot
// hold '/'.
absl::Status CheckH5adName(const std::string& path, absl::string_view what,
                           const std::string& name) {
  if (name.empty() || name == "." || name == "_index" || name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", what, " name '", name, "' cannot be stored in .h5ad"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Dataset> ReadTenxH5(const std::string& path) {
  FLS_ASSIGN_OR_RETURN(Reader reader, Reader::Open(path));
  if (!reader.Has(reader.root(), "matrix")) {
    return reader.Invalid("/matrix", "missing: not a Cell Ranger feature-barcode matrix .h5");
  }
  FLS_ASSIGN_OR_RETURN(Object matrix, reader.OpenGroup(reader.root(), "matrix"));
  FLS_ASSIGN_OR_RETURN(Object barcodes_ds, reader.OpenDataset(matrix, "barcodes"));
  FLS_ASSIGN_OR_RETURN(Object features, reader.OpenGroup(matrix, "features"));
  FLS_ASSIGN_OR_RETURN(Object ids_ds, reader.OpenDataset(features, "id"));

  Dataset ds;
  ds.source = path;
  FLS_ASSIGN_OR_RETURN(ds.barcodes, reader.ReadStrings(barcodes_ds));
  FLS_RETURN_IF_ERROR(CheckBarcodes(reader, barcodes_ds.path, ds.barcodes));
  FLS_ASSIGN_OR_RETURN(const std::vector<std::string> ids, reader.ReadStrings(ids_ds));
  std::vector<std::string> types;
  std::string types_path = ids_ds.path;
  if (reader.Has(features, "feature_type")) {
    FLS_ASSIGN_OR_RETURN(Object types_ds, reader.OpenDataset(features, "feature_type"));
    FLS_ASSIGN_OR_RETURN(types, reader.ReadStrings(types_ds));
    types_path = types_ds.path;
    if (types.size() != ids.size()) {
      return reader.Invalid(
          types_path, absl::StrCat(types.size(), " entries for ", ids.size(), " feature ids"));
    }
  }
  if (ids.size() > static_cast<size_t>(INT32_MAX)) {
    return reader.Invalid(ids_ds.path, "more than 2^31-1 features");
  }
  const int64_t n_features = static_cast<int64_t>(ids.size());
  const int64_t n_cells = static_cast<int64_t>(ds.barcodes.size());
  if (reader.Has(matrix, "shape")) {
    FLS_ASSIGN_OR_RETURN(Object shape_ds, reader.OpenDataset(matrix, "shape"));
    FLS_RETURN_IF_ERROR(reader.RequireClass(shape_ds, /*allow_float=*/false));
    FLS_ASSIGN_OR_RETURN(const auto shape, reader.ReadAll<int64_t>(shape_ds, H5T_NATIVE_INT64));
    if (shape.size() != 2 || shape[0] != n_features || shape[1] != n_cells) {
      return reader.Invalid(shape_ds.path, absl::StrCat("does not match ", n_features,
                                                        " features x ", n_cells, " barcodes"));
    }
  }

  // Keep "Peaks" features only (ARC files also hold "Gene Expression"), re-indexed in order.
  std::vector<int32_t> column_of(ids.size(), -1);
  for (size_t f = 0; f < ids.size(); ++f) {
    if (!types.empty() && types[f] != "Peaks") continue;
    auto peak = ParsePeakName(ids[f]);
    if (!peak.ok()) {
      return reader.Invalid(ids_ds.path,
                            absl::StrCat("feature ", f, ": ", peak.status().message()));
    }
    column_of[f] = static_cast<int32_t>(ds.peaks.size());
    ds.peaks.push_back(*std::move(peak));
  }
  if (ds.peaks.empty()) {
    return reader.Invalid(types_path, "no features of type 'Peaks' (not a scATAC-seq matrix?)");
  }
  FLS_ASSIGN_OR_RETURN(ds.matrix, reader.ReadByCell(matrix, n_cells, n_features, &column_of,
                                                    static_cast<int64_t>(ds.peaks.size())));
  return ds;
}

// An h5ad's sparse X group (csr_matrix or csc_matrix) of cells x peaks.
absl::StatusOr<CsrMatrix> ReadSparseX(const Reader& reader, const Object& x, int64_t cells,
                                      int64_t peaks) {
  // anndata >= 0.7 writes encoding-type and shape; older files h5sparse_format/_shape.
  std::string format;
  if (reader.HasAttr(x, "encoding-type")) {
    FLS_ASSIGN_OR_RETURN(format, reader.StringAttr(x, "encoding-type"));
  } else if (reader.HasAttr(x, "h5sparse_format")) {
    FLS_ASSIGN_OR_RETURN(format, reader.StringAttr(x, "h5sparse_format"));
    format += "_matrix";
  }
  if (format != "csr_matrix" && format != "csc_matrix") {
    return reader.Invalid(
        x.path,
        absl::StrCat("encoding '", format, "' unsupported (expected csr_matrix or csc_matrix)"));
  }
  const char* shape_attr = reader.HasAttr(x, "shape") ? "shape" : "h5sparse_shape";
  if (!reader.HasAttr(x, shape_attr)) return reader.Invalid(x.path, "no shape attribute");
  FLS_ASSIGN_OR_RETURN(const std::vector<int64_t> shape, reader.IntegersAttr(x, shape_attr));
  if (shape.size() != 2 || shape[0] != cells || shape[1] != peaks) {
    return reader.Invalid(x.path,
                          absl::StrCat("shape attribute is ",
                                       shape.size() == 2 ? absl::StrCat(shape[0], " x ", shape[1])
                                                         : std::string("not 2 numbers"),
                                       " but obs has ", cells, " rows and var ", peaks));
  }
  if (format == "csr_matrix") return reader.ReadByCell(x, cells, peaks, nullptr, peaks);
  return reader.ReadByPeak(x, cells, peaks);
}

absl::StatusOr<Dataset> ReadH5ad(const std::string& path) {
  FLS_ASSIGN_OR_RETURN(Reader reader, Reader::Open(path));
  const Object& root = reader.root();
  if (!reader.Has(root, "X")) return reader.Invalid("/X", "missing (FL-Sailer needs X)");
  FLS_ASSIGN_OR_RETURN(Object x, reader.Child(root, "X"));
  if (x.kind == Kind::kOther) return reader.Invalid(x.path, "expected a matrix");
  FLS_ASSIGN_OR_RETURN(Object obs, OpenFrame(reader, "obs"));
  FLS_ASSIGN_OR_RETURN(Object var, OpenFrame(reader, "var"));

  Dataset ds;
  ds.source = path;
  std::string index_path;
  FLS_ASSIGN_OR_RETURN(ds.barcodes, ReadIndex(reader, obs, &index_path));
  FLS_RETURN_IF_ERROR(CheckBarcodes(reader, index_path, ds.barcodes));
  FLS_ASSIGN_OR_RETURN(const std::vector<std::string> var_names,
                       ReadIndex(reader, var, &index_path));
  FLS_ASSIGN_OR_RETURN(ds.peaks, ReadVarPeaks(reader, var, var_names));
  const int64_t cells = static_cast<int64_t>(ds.barcodes.size());
  const int64_t peaks = static_cast<int64_t>(ds.peaks.size());
  if (cells > INT32_MAX || peaks > INT32_MAX) {
    return reader.Invalid(x.path, "more than 2^31-1 cells or peaks");
  }

  if (x.kind == Kind::kDataset) {
    FLS_ASSIGN_OR_RETURN(ds.matrix, reader.ReadDense(x, cells, peaks));
  } else {
    FLS_ASSIGN_OR_RETURN(ds.matrix, ReadSparseX(reader, x, cells, peaks));
  }
  FLS_ASSIGN_OR_RETURN(ds.metadata, ReadObsColumns(reader, obs, cells));
  FLS_ASSIGN_OR_RETURN(ds.obsm, ReadObsm(reader, cells));
  return ds;
}

absl::Status WriteH5ad(const std::string& path, const Dataset& dataset) {
  SilenceHdf5();
  if (absl::Status valid = dataset.Validate(); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not written: ", valid.message()));
  }
  for (size_t c = 0; c < dataset.metadata.names.size(); ++c) {
    const std::string& name = dataset.metadata.names[c];
    FLS_RETURN_IF_ERROR(CheckH5adName(path, "metadata column", name));
    for (size_t d = 0; d < c; ++d) {
      if (dataset.metadata.names[d] == name) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": duplicate metadata column '", name, "'"));
      }
    }
  }
  for (const auto& [name, m] : dataset.obsm) FLS_RETURN_IF_ERROR(CheckH5adName(path, "obsm", name));

  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  RemoveOnExit remove_tmp(tmp);
  Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot create ", tmp, ": ", Hdf5Reason()));
  }
  FLS_RETURN_IF_ERROR(Writer(path, file.get()).Write(dataset));
  if (!file.Close()) {
    return absl::DataLossError(absl::StrCat(path, ": could not finish writing: ", Hdf5Reason()));
  }
  const int fd = ::open(tmp.c_str(), O_RDONLY);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!synced || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": could not finish writing: ", std::strerror(errno)));
  }
  remove_tmp.Keep();
  return absl::OkStatus();
}

}  // namespace flsailer::data
