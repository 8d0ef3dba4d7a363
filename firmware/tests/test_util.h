#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace testutil {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// tests/frames/<name>: hex bytes, '#' starts a comment line.
inline std::vector<uint8_t> frame(const std::string& name) {
  std::istringstream in(read_file(std::string(GP_FRAMES_DIR) + "/" + name));
  std::vector<uint8_t> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string hex;
    while (words >> hex) out.push_back(static_cast<uint8_t>(std::stoul(hex, nullptr, 16)));
  }
  return out;
}

}  // namespace testutil
