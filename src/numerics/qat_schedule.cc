// The QATSchedule constraints (§a.5) and the observer / fake-quant state machine (§d).
#include <string>

#include "qrules/observer.h"

namespace qrules {

NumericsStatus ValidateQATSchedule(const QATSchedule& s) {
  auto error = [](std::string m) {
    return NumericsStatus::Error(NumericsError::kInvalidSchedule, std::move(m));
  };
  const std::string o = std::to_string(s.enable_observer);
  const std::string f = std::to_string(s.enable_fake_quant);
  if (s.enable_observer < 0) return error("enable_observer must be >= 0, got " + o);
  if (s.enable_fake_quant < 0) return error("enable_fake_quant must be >= 0, got " + f);
  if (s.disable_observer && *s.disable_observer <= 0) {
    return error("disable_observer must be > 0, got " + std::to_string(*s.disable_observer));
  }
  if (s.enable_fake_quant < s.enable_observer) {
    return error("enable_fake_quant (" + f + ") must be >= enable_observer (" + o + ")");
  }
  if (s.disable_observer) {
    const std::string d = std::to_string(*s.disable_observer);
    if (*s.disable_observer <= s.enable_observer) {
      return error("disable_observer (" + d + ") must be > enable_observer (" + o + ")");
    }
    if (*s.disable_observer < s.enable_fake_quant) {
      return error("disable_observer (" + d + ") must be >= enable_fake_quant (" + f + ")");
    }
  }
  return NumericsStatus::Ok();
}

NumericsStatus QatStateMachine::Add(FakeQuantizer* fq, std::optional<QATSchedule> schedule) {
  if (schedule) {
    if (NumericsStatus st = ValidateQATSchedule(*schedule); !st.ok()) return st;
  }
  entries_.push_back({fq, std::move(schedule)});
  return NumericsStatus::Ok();
}

bool QatStateMachine::AnySchedule() const {
  for (const Entry& e : entries_) {
    if (e.schedule) return true;
  }
  return false;
}

void QatStateMachine::ApplySchedules() {
  for (const Entry& e : entries_) {
    if (!e.schedule) continue;
    e.fq->set_observer_enabled(e.schedule->ObserverOn(step_));
    e.fq->set_fake_quant_enabled(e.schedule->FakeQuantOn(step_));
  }
}

void QatStateMachine::EnterCalibration() {
  for (const Entry& e : entries_) {
    e.fq->set_observer_enabled(true);
    e.fq->set_fake_quant_enabled(false);
  }
}

void QatStateMachine::ExitCalibration() {
  for (const Entry& e : entries_) {
    e.fq->set_observer_enabled(false);
    e.fq->set_fake_quant_enabled(true);
  }
}

NumericsStatus QatStateMachine::EnterTrainingMode() {
  if (training_) {
    return NumericsStatus::Error(
        NumericsError::kNestedTrainingMode,
        "Cannot enter training_mode() while already inside a training_mode() context. Nested "
        "training_mode() calls are not supported.");
  }
  training_ = true;
  for (const Entry& e : entries_) {
    e.fq->set_observer_enabled(true);
    e.fq->set_fake_quant_enabled(true);
  }
  ApplySchedules();
  return NumericsStatus::Ok();
}

void QatStateMachine::ExitTrainingMode() {
  training_ = false;
  ExitCalibration();  // observer off, fake quant on, regardless of schedules
}

NumericsStatus QatStateMachine::Step() {
  if (!training_) {
    return NumericsStatus::Error(NumericsError::kNotInTrainingMode,
                                 "step() must be called inside a training_mode() context.");
  }
  if (!AnySchedule()) {
    return NumericsStatus::Error(NumericsError::kNoSchedule,
                                 "step() was called but no qat_schedule is configured on any "
                                 "module; it has no effect.");
  }
  ++step_;
  ApplySchedules();
  return NumericsStatus::Ok();
}

NumericsStatus QatStateMachine::SetObserverEnabled(bool on) {
  if (AnySchedule()) {
    return NumericsStatus::Error(NumericsError::kScheduleConfigured,
                                 "Enable/disable APIs (enable_observer, disable_observer, "
                                 "enable_fake_quant, disable_fake_quant) cannot be used with a "
                                 "qat_schedule configured.");
  }
  for (const Entry& e : entries_) e.fq->set_observer_enabled(on);
  return NumericsStatus::Ok();
}

NumericsStatus QatStateMachine::SetFakeQuantEnabled(bool on) {
  if (AnySchedule()) {
    return NumericsStatus::Error(NumericsError::kScheduleConfigured,
                                 "Enable/disable APIs (enable_observer, disable_observer, "
                                 "enable_fake_quant, disable_fake_quant) cannot be used with a "
                                 "qat_schedule configured.");
  }
  for (const Entry& e : entries_) e.fq->set_fake_quant_enabled(on);
  return NumericsStatus::Ok();
}

}  // namespace qrules
