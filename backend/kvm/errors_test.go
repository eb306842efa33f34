package kvm

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gicits/gicits/model"
)

// TestWrapPrefixesOnce: the backend's errors carry "backend/kvm: " exactly
// once, however many boundaries they cross, and still wrap their cause.
func TestWrapPrefixesOnce(t *testing.T) {
	if wrap(nil) != nil {
		t.Fatal("wrap(nil) != nil")
	}
	cause := fmt.Errorf("CPU 3 of 2: %w", model.ErrInvalidArgument)
	once := wrap(cause)
	for _, err := range []error{once, wrap(once), wrap(wrap(once))} {
		if got, want := err.Error(), "backend/kvm: CPU 3 of 2: invalid argument"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if !errors.Is(err, model.ErrInvalidArgument) || !errors.Is(err, cause) {
			t.Errorf("%v does not wrap its cause", err)
		}
	}
	if got, want := wrap(fmt.Errorf("close: %w", errors.Join(model.ErrClosed, model.ErrBusy))).Error(), "backend/kvm: close: closed\nbusy"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestCheckConfigTexts pins CheckConfig's texts, prefixed once.
func TestCheckConfigTexts(t *testing.T) {
	for _, c := range []struct {
		cfg  model.Config
		want string
	}{
		{model.Config{CPUs: 1, ErrorPolicy: model.StallOnError}, "backend/kvm: error policy stall: KVM's ITS never stalls, it skips a failing command (ContinueOnError only): not supported"},
		{model.Config{CPUs: 1, NoTranslationCache: true}, "backend/kvm: NoTranslationCache: KVM's ITS always caches translations: not supported"},
		{model.Config{CPUs: 0}, "backend/kvm: 0 CPUs: invalid argument"},
	} {
		err := CheckConfig(c.cfg)
		if err == nil || err.Error() != c.want {
			t.Errorf("CheckConfig(%+v) = %v, want %s", c.cfg, err, c.want)
		}
	}
}
