// src/exec/kernel_registry.h — per-family kernel factories (internal).  Each returns null for an
// op type it does not own, or null with `*error` set for invalid attributes.
#pragma once

#include <memory>
#include <string>

#include "exec/kernels.h"

namespace qrules::internal {

std::unique_ptr<Kernel> CreateMathKernel(const KernelSpec& spec, std::string* error);
std::unique_ptr<Kernel> CreateNnKernel(const KernelSpec& spec, std::string* error);
std::unique_ptr<Kernel> CreateShapeKernel(const KernelSpec& spec, std::string* error);

}  // namespace qrules::internal
