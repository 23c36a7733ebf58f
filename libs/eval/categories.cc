#include "libs/eval/categories.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"

namespace flsailer::eval {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (IsDigit(a[i]) && IsDigit(b[j])) {
      // Compare the digit runs as numbers: skip leading zeros, then longer is larger.
      size_t i_end = i, j_end = j;
      while (i_end < a.size() && IsDigit(a[i_end])) ++i_end;
      while (j_end < b.size() && IsDigit(b[j_end])) ++j_end;
      size_t i_start = i, j_start = j;
      while (i_start + 1 < i_end && a[i_start] == '0') ++i_start;
      while (j_start + 1 < j_end && b[j_start] == '0') ++j_start;
      const size_t i_len = i_end - i_start, j_len = j_end - j_start;
      if (i_len != j_len) return i_len < j_len;
      const int order = a.compare(i_start, i_len, b, j_start, j_len);
      if (order != 0) return order < 0;
      i = i_end;
      j = j_end;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  if ((i < a.size()) != (j < b.size())) return j < b.size();  // a prefix comes first
  return a < b;  // equal as numbers ("07" vs "7"): byte order decides
}

Categories EncodeCategories(const std::vector<std::string>& values) {
  Categories result;
  absl::flat_hash_map<std::string, int32_t> index;
  for (const std::string& value : values) index.emplace(value, 0);
  result.names.reserve(index.size());
  for (const auto& entry : index) result.names.push_back(entry.first);
  std::sort(result.names.begin(), result.names.end(), NaturalLess);
  for (size_t i = 0; i < result.names.size(); ++i) {
    index[result.names[i]] = static_cast<int32_t>(i);
  }
  result.codes.reserve(values.size());
  for (const std::string& value : values) result.codes.push_back(index[value]);
  return result;
}

int32_t DenseCodes(const std::vector<int32_t>& values, std::vector<int32_t>* codes) {
  std::vector<int32_t> distinct;
  for (int32_t v : values) {
    if (v >= 0) distinct.push_back(v);
  }
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  codes->resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    (*codes)[i] =
        values[i] < 0
            ? -1
            : static_cast<int32_t>(std::lower_bound(distinct.begin(), distinct.end(), values[i]) -
                                   distinct.begin());
  }
  return static_cast<int32_t>(distinct.size());
}

}  // namespace flsailer::eval
