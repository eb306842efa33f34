package kvm

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// Name is the name the backend registers under.
const Name = "kvm"

func init() { model.Register(Name, Open) }

// Open opens a kvm backend: a VM with cfg.CPUs vCPUs, a vGICv3 and an ITS
// at cfg.Layout's addresses, tables programmed from the layout, the ITS
// enabled, and the guest program (guest.go) parked on every vCPU. Use
// [model.Open] with "kvm" rather than calling it directly.
//
// On anything but linux/arm64 with /dev/kvm it fails with an error wrapping
// [model.ErrNotSupported] that says what is needed.
func Open(cfg model.Config) (model.Backend, error) {
	cfg = cfg.WithDefaults()
	if err := CheckConfig(cfg); err != nil {
		return nil, err
	}
	return open(cfg, true)
}

// CheckConfig refuses what KVM cannot be: the stall-on-error policy, an ITS
// without a translation cache, a GITS_TYPER other than KVM's.
func CheckConfig(cfg model.Config) error {
	switch {
	case cfg.ErrorPolicy != model.ContinueOnError:
		return wrap(fmt.Errorf("error policy %v: KVM's ITS never stalls, it skips a failing command (ContinueOnError only): %w", cfg.ErrorPolicy, model.ErrNotSupported))
	case cfg.NoTranslationCache:
		return wrap(fmt.Errorf("NoTranslationCache: KVM's ITS always caches translations: %w", model.ErrNotSupported))
	case cfg.ITSTyper.Virtual():
		return wrap(fmt.Errorf("GITS_TYPER %#x asks for GICv4 virtual LPIs (Virtual, bit 1): KVM exposes a GICv3 ITS to guests: %w", uint64(cfg.ITSTyper), model.ErrNotSupported))
	case cfg.ITSTyper != 0 && cfg.ITSTyper != model.KVMITSTyper:
		return wrap(fmt.Errorf("GITS_TYPER %#x: KVM implements only its own, %#x: %w", uint64(cfg.ITSTyper), uint64(model.KVMITSTyper), model.ErrNotSupported))
	case cfg.CPUs < 1:
		return wrap(fmt.Errorf("%d CPUs: %w", cfg.CPUs, model.ErrInvalidArgument))
	}
	return nil
}
