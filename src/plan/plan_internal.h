// Private helpers of the plan stage.
#pragma once

#include <set>
#include <string>

#include "qrules/plan.h"
