package replay

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gicits/gicits/model"
)

// A Dump is a range of the guest's memory saved while it ran, as QEMU's
// monitor command pmemsave writes one: Data holds the bytes from GPA on.
type Dump struct {
	// Name says where the dump came from: its file.
	Name string
	GPA  model.GPA
	Data []byte
}

// End is the first address past the dump.
func (d *Dump) End() model.GPA { return d.GPA + model.GPA(len(d.Data)) }

func (d *Dump) String() string {
	return fmt.Sprintf("%s (%v-%v)", d.Name, d.GPA, d.End()-1)
}

// Memory is what a replay and the lint know of the guest's memory: the
// dumps they are given. QEMU traces no memory access, so the command
// queue's packets (SYNC's target, INVALL's collection) and the LPI
// property table are known only from dumps. A dump is one moment, usually
// the end of the run: the commands still in the queue then, and the LPI
// configuration then.
type Memory struct {
	Dumps []*Dump
}

// Add adds a dump of the bytes in data from gpa on. Dumps may not be
// empty, wrap the address space, or overlap one another.
func (m *Memory) Add(name string, gpa model.GPA, data []byte) error {
	d := &Dump{Name: name, GPA: gpa, Data: data}
	switch {
	case len(data) == 0:
		return fmt.Errorf("replay: memory dump %s is empty", name)
	case d.End() <= gpa:
		return fmt.Errorf("replay: memory dump %s: %d bytes from %v run past the end of the address space", name, len(data), gpa)
	}
	for _, o := range m.Dumps {
		if d.GPA < o.End() && o.GPA < d.End() {
			return fmt.Errorf("replay: memory dump %s overlaps %s", d, o)
		}
	}
	m.Dumps = append(m.Dumps, d)
	return nil
}

// Read returns the n bytes at gpa and the dump that holds them, or nil
// when no one dump holds them all (m may be nil).
func (m *Memory) Read(gpa model.GPA, n int) ([]byte, *Dump) {
	if m == nil || n < 0 {
		return nil, nil
	}
	for _, d := range m.Dumps {
		if gpa >= d.GPA && gpa < d.End() && uint64(n) <= uint64(d.End()-gpa) {
			off := uint64(gpa - d.GPA)
			return d.Data[off : off+uint64(n)], d
		}
	}
	return nil, nil
}

// ParseMemSpec splits a dump's command-line form, FILE@GPA, at its last
// '@'. GPA is a number as Go writes one (0x40000000, 1073741824).
func ParseMemSpec(s string) (file string, gpa model.GPA, err error) {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", 0, fmt.Errorf("%q: want FILE@GPA (a memory dump and the guest physical address it starts at, as given to QEMU's pmemsave)", s)
	}
	file, addr := s[:at], s[at+1:]
	if file == "" {
		return "", 0, fmt.Errorf("%q: the FILE before '@' is empty", s)
	}
	v, err := strconv.ParseUint(addr, 0, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%q: GPA %q is not a number (0x40000000, say): %w", s, addr, errors.Unwrap(err))
	}
	return file, model.GPA(v), nil
}

// LoadMemory reads the dumps that specs name: each FILE@GPA
// ([ParseMemSpec]), or the name of a list of them (a spec without '@'),
// as the trace capture writes beside a trace (NAME.mem): one FILE@GPA a
// line, FILE relative to the list's directory, '#' starting a comment.
func LoadMemory(specs []string) (*Memory, error) {
	m := &Memory{}
	for _, s := range specs {
		dumps, err := expandMemSpec(s)
		if err != nil {
			return nil, err
		}
		for _, spec := range dumps {
			file, gpa, err := ParseMemSpec(spec)
			if err != nil {
				return nil, err
			}
			data, err := readDump(file)
			if err != nil {
				return nil, fmt.Errorf("replay: memory dump: %w", err)
			}
			if err := m.Add(file, gpa, data); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(m.Dumps, func(a, b *Dump) int { return cmp.Compare(a.GPA, b.GPA) })
	return m, nil
}

// MemSpecFiles returns the files a -mem spec reads: the dump, or the
// list and the dumps it names.
func MemSpecFiles(spec string) ([]string, error) {
	dumps, err := expandMemSpec(spec)
	if err != nil {
		return nil, err
	}
	var files []string
	if !strings.Contains(spec, "@") {
		files = append(files, spec)
	}
	for _, d := range dumps {
		file, _, err := ParseMemSpec(d)
		if err != nil {
			return nil, err
		}
		files = append(files, file)
	}
	return files, nil
}

// expandMemSpec returns spec itself when it is FILE@GPA, else the specs
// of the list file it names, their files made relative to the list's
// directory.
func expandMemSpec(spec string) ([]string, error) {
	if strings.Contains(spec, "@") {
		return []string{spec}, nil
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return nil, fmt.Errorf("replay: %q is neither FILE@GPA nor a list of them: %w", spec, err)
	}
	if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		return nil, fmt.Errorf("replay: %s has no @GPA, and it is not a list of FILE@GPA dumps (it is not text): give the address the dump starts at, %s@GPA", spec, spec)
	}
	var specs []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		file, gpa, err := ParseMemSpec(line)
		if err != nil {
			return nil, fmt.Errorf("replay: %s:%d: %w", spec, i+1, err)
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(filepath.Dir(spec), file)
		}
		specs = append(specs, fmt.Sprintf("%s@%#x", file, uint64(gpa)))
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("replay: %s lists no FILE@GPA dump", spec)
	}
	return specs, nil
}

// maxDump bounds a gunzipped dump: larger than any queue (1 MiB) or
// property table (4 GiB less 8 KiB needs 32 INTID bits; guests use 16 to
// 24) worth replaying.
const maxDump = 1 << 30

// readDump reads a dump file, gunzipping it when its name ends in .gz, or
// when it starts with gzip's magic and method bytes (1f 8b 08) and a gzip
// header parses: a raw property table may start with those bytes too.
func readDump(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	named := strings.HasSuffix(file, ".gz")
	if !named && !bytes.HasPrefix(data, []byte{0x1f, 0x8b, 0x08}) {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	switch {
	case err != nil && named:
		return nil, fmt.Errorf("%s: named .gz, but not gzipped: %w", file, err)
	case err != nil:
		return data, nil
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxDump+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: gzipped, but cut short or corrupt: %w", file, err)
	case len(out) > maxDump:
		return nil, fmt.Errorf("%s: more than %d MiB gunzipped: not a dump of the command queue or the property table", file, maxDump>>20)
	}
	return out, nil
}
