// SPDX-License-Identifier: MIT
// config.json for the workspace half. The parser lives in ctml/run/workspace_config.hpp (the
// trainer half must find its workspace without the store); this header gives it workspace
// names. Keys and search order are documented there.
#pragma once
#include "ctml/run/workspace_config.hpp"

namespace ctml::workspace {

using run::workspace_config;
using run::parse_workspace_config;
using run::load_workspace_config;
using run::find_workspace_config;
using run::locate_workspace;

} // namespace ctml::workspace
