// Table: left-aligned text columns for the tools' listings, two spaces apart, the last column
// unpadded (so lines carry no trailing blanks). Cells must not contain newlines.
//
//   Table t({"TOPIC", "PARTITION", "LAG"});
//   t.Add({"orders", "0", "12"});
//   t.Print(std::cout);
//   // TOPIC   PARTITION  LAG
//   // orders  0          12
#pragma once

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace strata::tools {

class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Rows added (the header not counted).
  size_t size() const { return rows_.size() - 1; }

  void Print(std::ostream& out) const {
    std::vector<size_t> widths;
    for (const auto& row : rows_) {
      if (widths.size() < row.size()) widths.resize(row.size(), 0);
      for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    for (const auto& row : rows_) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
      }
      out << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace strata::tools
