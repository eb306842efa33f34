package replay

import (
	"cmp"
	"fmt"
	"io"
	"slices"
)

// Report is what a replay found: counts, what it inferred, remapped or
// ignored ([Report.Notes]), and every disagreement between the backend
// and the trace ([Report.Findings]).
type Report struct {
	// Backend is the name of the backend replayed on.
	Backend string
	// CPUs is the number of CPUs of the guest.
	CPUs int
	// Lines and Events are the trace's lines and parsed events.
	Lines, Events int
	// Commands, Translations and Acknowledges count what was replayed
	// and checked; RegisterWrites the register writes mirrored.
	Commands, Translations, Acknowledges, RegisterWrites int
	// Notes say what the replay inferred, remapped or ignored, in the
	// order it first did so.
	Notes []*Note
	// Findings are the divergences, in trace order.
	Findings []Finding
	// ITTs are where the guest's ITTs went on the backend.
	ITTs []ITTMapping
	// Guest is what the guest did, as the replay left it.
	Guest *Guest
}

// OK reports whether the backend agreed with the trace everywhere.
func (r *Report) OK() bool { return len(r.Findings) == 0 }

// A Finding is a divergence: at trace line Line, event Event, What was
// checked; the trace wants Want, the backend did Got.
type Finding struct {
	Line  int
	Event string
	What  string
	Want  string
	Got   string
}

func (f Finding) String() string {
	return fmt.Sprintf("line %d: %s: %s: want %s; got %s", f.Line, f.Event, f.What, f.Want, f.Got)
}

// NoteKind says what a note is about.
type NoteKind int

const (
	// Inferred: something the trace does not record, and what the replay
	// took for it.
	Inferred NoteKind = iota
	// Remapped: a guest address or table the backend has elsewhere.
	Remapped
	// Ignored: events or lines not replayed.
	Ignored
	// Rejected: commands QEMU and the backend both refused, an agreement
	// worth knowing.
	Rejected
	// FromDump: what the replay took from the memory dumps it was given
	// instead of inferring it.
	FromDump
)

func (k NoteKind) String() string {
	switch k {
	case Inferred:
		return "inferred"
	case Remapped:
		return "remapped"
	case Ignored:
		return "ignored"
	case Rejected:
		return "rejected"
	case FromDump:
		return "from memory dumps"
	}
	return fmt.Sprintf("note kind %d", int(k))
}

// A Note says what the replay inferred, remapped or ignored: first at
// trace line Line (0 for the trace as a whole), Count times.
type Note struct {
	Kind  NoteKind
	Line  int
	Count int
	Text  string
}

func (n *Note) String() string {
	s := n.Text
	switch {
	case n.Line > 0 && n.Count > 1:
		s = fmt.Sprintf("line %d (and %d more): %s", n.Line, n.Count-1, s)
	case n.Line > 0:
		s = fmt.Sprintf("line %d: %s", n.Line, s)
	case n.Count > 1:
		s = fmt.Sprintf("%s (%d times)", s, n.Count)
	}
	return s
}

// maxPrinted bounds the findings WriteText prints: past that, one broken
// mapping repeats on every MSI.
const maxPrinted = 100

// WriteText writes the report for people: a summary line, the notes by
// kind, the findings (the first 100), and a last line that says whether
// the backend agreed with the trace.
func (r *Report) WriteText(w io.Writer) error {
	p := &printer{w: w}
	p.printf("replayed %s (%s) on %s with %s: %s, %s, %s checked, %s\n",
		plural(r.Lines, "line"), plural(r.Events, "event"), r.Backend, plural(r.CPUs, "CPU"), plural(r.Commands, "command"),
		plural(r.Translations, "MSI"), plural(r.Acknowledges, "acknowledge"), plural(r.RegisterWrites, "register write"))
	notes := slices.Clone(r.Notes)
	slices.SortStableFunc(notes, func(a, b *Note) int { return cmp.Compare(a.Line, b.Line) })
	for _, kind := range []NoteKind{FromDump, Inferred, Remapped, Ignored, Rejected} {
		header := false
		for _, n := range notes {
			if n.Kind != kind {
				continue
			}
			if !header {
				p.printf("%v:\n", kind)
				header = true
			}
			p.printf("  %v\n", n)
		}
	}
	if len(r.Findings) > 0 {
		p.printf("divergences:\n")
	}
	for i, f := range r.Findings {
		if i == maxPrinted {
			p.printf("  ... and %d more\n", len(r.Findings)-maxPrinted)
			break
		}
		p.printf("  %v\n", f)
	}
	if r.OK() {
		p.printf("ok: the %s backend agrees with the trace\n", r.Backend)
	} else {
		p.printf("%s\n", plural(len(r.Findings), "divergence"))
	}
	return p.err
}

// printer is a writer with a sticky error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// plural returns "1 word" or "n words".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
