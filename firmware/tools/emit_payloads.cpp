// Prints what the firmware publishes for the fixed inputs of tools/contract_cases.cpp,
// one JSON object a line: {"name":..,"file":..,"topic":..,"payload":<the payload>}.
//   emit_payloads                 JSON lines on stdout
//   emit_payloads --write DIR     (re)write DIR/<file> for every case (DIR: contracts/)
#include <cstdio>
#include <cstring>
#include <string>

#include "contract_cases.h"
#include "gp/json.h"

int main(int argc, char** argv) {
  const auto cases = gpcontract::contract_cases();
  if (argc == 3 && std::strcmp(argv[1], "--write") == 0) {
    for (const auto& c : cases) {
      const std::string path = std::string(argv[2]) + "/" + c.file;
      FILE* f = std::fopen(path.c_str(), "wb");
      if (f == nullptr) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        return 1;
      }
      std::fwrite(c.payload.data(), 1, c.payload.size(), f);
      std::fputc('\n', f);
      std::fclose(f);
      std::fprintf(stderr, "wrote %s (%zu bytes)\n", path.c_str(), c.payload.size());
    }
    return 0;
  }
  if (argc != 1) {
    std::fprintf(stderr, "usage: %s [--write CONTRACTS_DIR]\n", argv[0]);
    return 2;
  }
  for (const auto& c : cases) {
    if (c.payload.empty()) {
      std::fprintf(stderr, "case %s produced nothing\n", c.name.c_str());
      return 1;
    }
    std::string line;
    gp::JsonWriter w(line);
    w.begin_object().key("name").value(c.name).key("file").value(c.file).key("topic").value(c.topic);
    w.key("note").value(c.note).key("payload").raw(c.payload.c_str()).end_object();
    std::printf("%s\n", line.c_str());
  }
  return 0;
}
