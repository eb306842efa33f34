package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/savedstate"
	"github.com/gicits/gicits/script"
)

func init() {
	register(&command{
		name:    "state",
		summary: "run a scenario (or restore a saved state) and dump devices, ITTs, collections, LPI configuration and pending LPIs (with gicv4, vPEs and vLPIs too; with itses N, each ITS's); -save writes the state to a file",
		run:     runState,
	})
}

func runState(e *env, args []string) error {
	fs := newFlagSet(e, "state", "[-backend NAME] [-script FILE] [-restore FILE] [-save FILE] [-format text|json]")
	sc := addScenarioFlags(fs)
	save := fs.String("save", "", "also write the state to `FILE` in the saved-state format (for -restore, on any backend); FILE is replaced only once the state is saved. A file holds one ITS: on a machine with several (itses in the scenario) -save is refused")
	format := fs.String("format", "text", "output format: text or json (the gicits-state schema: docs/json.md); the same on every backend, so two dumps can be diffed")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if err := sc.check(); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("-format %q: want text or json", *format)
	}
	var out *pendingSave
	if *save != "" {
		// runScenario checks the backend too, but only after -save has
		// begun: every mistake in the command line comes first.
		if !slices.Contains(model.Backends(), *sc.backend) {
			return usagef("-backend %q: want one of %s", *sc.backend, backendList())
		}
		// Begun now, so that a path that cannot be written fails before
		// a scenario runs (on KVM, after a VM boots).
		var err error
		if out, err = beginSave(*save, *sc.restore); err != nil {
			return err
		}
		defer out.abort()
	}
	var saved *savedstate.State // what observe captured for -save
	var data []byte
	err := runScenario(e, sc, func(_ *script.Script, b model.Backend) error {
		if out != nil {
			// A saved-state file holds one ITS (savedstate/doc.go): a
			// file of ITS 0 alone would restore as a different machine.
			if n := b.Capabilities().ITSes; n > 1 {
				return usagef("-save: the machine has %d ITSes and a saved-state file holds one: nothing saved, nothing shown (run without -save to see every ITS)", n)
			}
			var err error
			if saved, data, err = captureState(b); err != nil {
				return err
			}
		}
		s, err := inspect.ReadState(b)
		if err != nil {
			return err
		}
		if *format == "json" {
			return s.WriteJSON(e.stdout)
		}
		return s.WriteText(e.stdout)
	})
	if err != nil || out == nil {
		return err
	}
	if err := out.commit(data); err != nil {
		return fmt.Errorf("-save: %w", err)
	}
	fmt.Fprintf(e.stderr, "itsbench state: saved the state of %s (%s, %s, %s) to %s\n", saved.Source, plural(saved.CPUs, "CPU"), plural(len(saved.Regions), "table"), plural(len(data), "byte"), out.name)
	return nil
}

// pendingSave is a -save in progress: the state is written to a new file
// beside the one named, which replaces it only once the state is all
// there, so that a run that fails, at any point, leaves the named file as
// it was.
type pendingSave struct {
	name string   // as the user named it
	path string   // the file to replace: name, its symbolic links followed
	tmp  *os.File // beside path; nil once committed or aborted
}

// beginSave checks the -save file name, refusing the -restore file itself
// (restore names it; "" for none) and a directory, and creates the
// temporary file beside it: with the permissions of the file it replaces,
// or of a new file (0666 less the umask) where there is none.
func beginSave(name, restore string) (*pendingSave, error) {
	path := name
	fi, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fi = nil
	case err != nil:
		return nil, usagef("-save: %v", err)
	case fi.IsDir():
		return nil, usagef("-save: %s is a directory", name)
	default:
		if path, err = filepath.EvalSymlinks(name); err != nil {
			return nil, usagef("-save: %v", err)
		}
		if rfi, err := os.Stat(restore); restore != "" && err == nil && os.SameFile(fi, rfi) {
			return nil, usagef("-save %s is the -restore file: saving would replace the state being restored; save to another file", name)
		}
	}
	dir, base := filepath.Split(path)
	for range 100 {
		tmp := filepath.Join(dir, fmt.Sprintf(".%s.%08x.tmp", base, rand.Uint32()))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			// The user named the file, not the temporary one.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
			}
			return nil, usagef("-save: %v", err)
		}
		s := &pendingSave{name: name, path: path, tmp: f}
		if fi != nil {
			if err := f.Chmod(fi.Mode().Perm()); err != nil {
				s.abort()
				return nil, fmt.Errorf("-save: %w", err)
			}
		}
		return s, nil
	}
	return nil, fmt.Errorf("-save: no free temporary name beside %s", path)
}

// commit writes data and replaces the named file with it.
func (s *pendingSave) commit(data []byte) error {
	_, err := s.tmp.Write(data)
	if err == nil {
		err = s.tmp.Sync()
	}
	if cerr := s.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(s.tmp.Name(), s.path)
	}
	if err != nil {
		os.Remove(s.tmp.Name())
	}
	s.tmp = nil
	return err
}

// abort removes the temporary file, unless it was committed.
func (s *pendingSave) abort() {
	if s.tmp != nil {
		s.tmp.Close()
		os.Remove(s.tmp.Name())
		s.tmp = nil
	}
}

// captureState captures b's state for -save, in the saved-state format.
func captureState(b model.Backend) (*savedstate.State, []byte, error) {
	st, err := savedstate.Capture(b)
	if err != nil {
		return nil, nil, fmt.Errorf("-save: %w", err)
	}
	data, err := st.MarshalBinary()
	if err != nil {
		return nil, nil, fmt.Errorf("-save: %w", err)
	}
	return st, data, nil
}
