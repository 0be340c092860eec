// SPDX-License-Identifier: MIT
// Definitions of the declarations in the public header that includes this file.
#pragma once
