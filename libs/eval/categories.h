// Per-cell string annotations (cell types, batches) turned into integer codes for the metrics.
#ifndef FLSAILER_LIBS_EVAL_CATEGORIES_H_
#define FLSAILER_LIBS_EVAL_CATEGORIES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace flsailer::eval {

struct Categories {
  // Distinct values in natural order: runs of digits compare as numbers, so "type_2" comes before
  // "type_10" (legends read in the order people expect); ties fall back to plain byte order.
  std::vector<std::string> names;
  std::vector<int32_t> codes;  // per cell: index into names
};

// Codes for `values`. Every string, the empty one included, is a category of its own (and the
// empty string comes first).
Categories EncodeCategories(const std::vector<std::string>& values);

// The order of Categories::names.
bool NaturalLess(const std::string& a, const std::string& b);

// Renumbers integer codes to 0..m-1 in increasing order of value, negative codes (missing) to -1;
// returns m, the number of distinct non-negative codes.
int32_t DenseCodes(const std::vector<int32_t>& values, std::vector<int32_t>* codes);

}  // namespace flsailer::eval

#endif  // FLSAILER_LIBS_EVAL_CATEGORIES_H_
