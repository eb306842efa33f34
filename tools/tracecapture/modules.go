package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// runModules is the modules subcommand: it resolves the named modules and
// their dependencies in the module directory of doc.go, and prints either
// the files still to extract or the load order.
func runModules(args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("modules", flag.ContinueOnError)
	fset.SetOutput(stderr)
	dir := fset.String("dir", "", "the module directory: members, modules.builtin and the modules extracted so far")
	if err := fset.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *dir == "" || fset.NArg() == 0 {
		return usageError("need -dir and at least one module name")
	}
	members, err := readPathList(filepath.Join(*dir, "members"))
	if err != nil {
		return err
	}
	builtin, err := readPathList(filepath.Join(*dir, "modules.builtin"))
	if err != nil {
		return err
	}
	depends := func(file string) ([]string, error) {
		return readModinfoDepends(filepath.Join(*dir, filepath.FromSlash(uncompressedName(file))))
	}
	r, err := resolveModules(members, builtin, depends, fset.Args())
	if err != nil {
		return err
	}
	for _, f := range r.need {
		fmt.Fprintln(stdout, "need", f)
	}
	if len(r.need) > 0 {
		return nil
	}
	for _, name := range r.inKernel {
		fmt.Fprintf(stderr, "tracecapture modules: %s is built into the kernel\n", name)
	}
	for _, f := range r.load {
		fmt.Fprintln(stdout, "load", uncompressedName(f))
	}
	return nil
}

// moduleFiles maps a module's name to its file, a path relative to
// /lib/modules/<release> (kernel/drivers/net/virtio_net.ko.xz).
type moduleFiles map[string]string

// readPathList reads a list of module files, one a line: the package's
// members, or modules.builtin.
func readPathList(name string) (moduleFiles, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parsePathList(f)
}

func parsePathList(r io.Reader) (moduleFiles, error) {
	m := moduleFiles{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if file := strings.TrimSpace(sc.Text()); file != "" && !strings.HasPrefix(file, "#") {
			m[moduleName(file)] = file
		}
	}
	return m, sc.Err()
}

// moduleName is the name the kernel gives the module in file:
// kernel/drivers/nvme/host/nvme-core.ko.xz is nvme_core. A name is its own
// name, with "-" spelled "_".
func moduleName(file string) string {
	base := path.Base(file)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// uncompressedName is file without its compression suffix (.xz, .zst, .gz):
// where the host leaves it decompressed.
func uncompressedName(file string) string {
	for _, z := range []string{".xz", ".zst", ".gz"} {
		if strings.HasSuffix(file, ".ko"+z) {
			return strings.TrimSuffix(file, z)
		}
	}
	return file
}

// resolution is what resolveModules found.
type resolution struct {
	load     []string // module files in load order, each after its dependencies
	need     []string // module files to extract before the order is known
	inKernel []string // the names asked for that are built into the kernel
}

// resolveModules orders the modules names and everything they depend on,
// after depends, which returns the dependencies (module names) of a module
// file, or an error wrapping fs.ErrNotExist when that file is not extracted
// yet: the file is then in need, and its dependencies are unknown until it
// is. A name asked for that the kernel has neither as a module (members)
// nor built in is an error; so is a dependency that is not a module.
func resolveModules(members, builtin moduleFiles, depends func(file string) ([]string, error), names []string) (resolution, error) {
	var r resolution
	done := map[string]bool{}   // names whose file is in load or need
	onPath := map[string]bool{} // names being visited: a cycle check
	var visit func(name string) error
	visit = func(name string) error {
		if done[name] {
			return nil
		}
		if onPath[name] {
			return fmt.Errorf("dependency cycle through module %s", name)
		}
		file, ok := members[name]
		if !ok {
			if _, ok := builtin[name]; ok {
				return nil
			}
			return fmt.Errorf("module %s: neither a module of the package nor built into the kernel", name)
		}
		onPath[name] = true
		deps, err := depends(file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			r.need = append(r.need, file)
		case err != nil:
			return fmt.Errorf("module %s: %w", name, err)
		default:
			for _, d := range deps {
				if err := visit(moduleName(d)); err != nil {
					return err
				}
			}
			r.load = append(r.load, file)
		}
		onPath[name] = false
		done[name] = true
		return nil
	}
	for _, raw := range names {
		name := moduleName(raw)
		if _, ok := members[name]; !ok {
			if _, ok := builtin[name]; ok {
				r.inKernel = append(r.inKernel, name)
				continue
			}
		}
		if err := visit(name); err != nil {
			return resolution{}, err
		}
	}
	return r, nil
}

// readModinfoDepends returns the modules the kernel module file ko depends
// on: the depends= entry of its .modinfo section (what modinfo -F depends
// prints).
func readModinfoDepends(ko string) ([]string, error) {
	f, err := elf.Open(ko)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("%s: no .modinfo section: not a kernel module", ko)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("%s: .modinfo: %w", ko, err)
	}
	return modinfoDepends(data), nil
}

// modinfoDepends parses a .modinfo section: NUL-separated key=value
// strings, of which depends= lists the dependencies, comma-separated.
func modinfoDepends(modinfo []byte) []string {
	var deps []string
	for kv := range bytes.SplitSeq(modinfo, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			for d := range strings.SplitSeq(string(v), ",") {
				if d != "" {
					deps = append(deps, d)
				}
			}
		}
	}
	return deps
}
