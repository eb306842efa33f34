package savedstate_test

import (
	"errors"
	"testing"

	"github.com/gicits/gicits/model"
)

// TestConfigure: a configuration without settings takes the saved
// machine; one whose settings agree keeps them; one whose settings differ
// is told which, and gets the saved machine anyway.
func TestConfigure(t *testing.T) {
	st := captureScenario(t, scenarios[0])
	indirect := model.DefaultLayout()
	indirect.DeviceTableIndirect = true
	for _, c := range []struct {
		name string
		cfg  model.Config
		want string
	}{
		{"none", model.Config{NoTranslationCache: true}, ""},
		{"agree", model.Config{CPUs: 2, Layout: model.DefaultLayout()}, ""},
		{"cpus", model.Config{CPUs: 1}, "the settings ask for cpus 1 where the saved state has 2: the machine comes from the saved state, drop them: invalid argument"},
		{"layout-and-typer", model.Config{Layout: indirect, ITSTyper: 0xef71}, "the settings ask for a layout (queue, devtable, colltable) other than the saved state's; GITS_TYPER 0xef71 where the saved state has 0x1ef71: the machine comes from the saved state, drop them: invalid argument"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			err := st.Configure(&cfg)
			if got := errString(err); got != c.want || (err != nil && !errors.Is(err, model.ErrInvalidArgument)) {
				t.Errorf("Configure = %q, want %q", got, c.want)
			}
			want := st.Config()
			want.NoTranslationCache = c.cfg.NoTranslationCache
			if cfg != want {
				t.Errorf("configuration %+v, want %+v", cfg, want)
			}
		})
	}
}

// TestITTAreaInUse: the scenario's two ITTs (8 and 2 entries) lie at the
// start of the ITT area; software allocating after a restore starts past
// the second.
func TestITTAreaInUse(t *testing.T) {
	st := captureScenario(t, scenarios[0])
	if got, want := st.ITTAreaInUse(), uint64(0x100+2*8); got != want {
		t.Errorf("ITTAreaInUse = %#x, want %#x", got, want)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
