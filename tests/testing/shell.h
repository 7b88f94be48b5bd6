// Runs a shell command for tests and captures its standard output.
//
//   ShellResult r = Shell("kcat -b " + bootstrap + " -L 2>&1");
//   EXPECT_EQ(r.exit_code, 0) << r.out;
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace strata::testing {

struct ShellResult {
  int exit_code = -1;  // -1 when the command did not exit normally
  std::string out;
};

inline ShellResult Shell(const std::string& cmd) {
  ShellResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace strata::testing
