// The strata subcommands. Each takes the arguments after its name and returns the process exit
// code (0 success, 1 failure or problems found, 2 usage error), printing to stdout/stderr.
#pragma once

#include <string>
#include <vector>

namespace strata::tools {

using Argv = std::vector<std::string>;

int LogDump(const Argv& args);      // strata log dump
int LogVerify(const Argv& args);    // strata log verify
int LogGenerate(const Argv& args);  // strata log generate
int LogCompact(const Argv& args);   // strata log compact
int Serve(const Argv& args);        // strata serve
int Topic(const Argv& args);        // strata topic create|list|describe|delete|alter-config|...
int Produce(const Argv& args);      // strata produce
int Consume(const Argv& args);      // strata consume
int Bench(const Argv& args);        // strata bench produce|consume
int Group(const Argv& args);        // strata group list|describe|reset-offsets|delete
int Cluster(const Argv& args);      // strata cluster status

// Lists the segment .log files of a partition directory in offset order.
std::vector<std::string> SegmentFiles(const std::string& dir);

}  // namespace strata::tools
