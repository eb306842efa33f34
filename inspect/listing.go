package inspect

import (
	"io"

	"github.com/gicits/gicits/model"
)

// A Listing is decoded input, ready to be written for people: command
// packets ([CommandListing]) or the entries of one ITS table
// ([TableListing]).
type Listing interface {
	// Write writes one line per packet or entry, each followed by its
	// problems.
	Write(w io.Writer) error
	// Failures counts the packets or entries that did not decode: those
	// with a fatal [Problem].
	Failures() int
}

// CommandListing is decoded command packets, written by [WriteCommands].
type CommandListing struct {
	Lines []CommandLine
	Marks QueueMarks
}

// Write writes the packets as [WriteCommands] does.
func (l CommandListing) Write(w io.Writer) error { return WriteCommands(w, l.Lines, l.Marks) }

// Failures counts the packets with a fatal problem.
func (l CommandListing) Failures() int {
	n := 0
	for _, c := range l.Lines {
		if anyFatal(c.Problems) {
			n++
		}
	}
	return n
}

// TableListing is decoded table entries, written by [WriteEntries].
type TableListing struct {
	Kind TableKind
	// Base is the table's guest physical address, nil for entries given
	// by value (see [WriteEntries]).
	Base  *model.GPA
	Lines []EntryLine
}

// Write writes the entries as [WriteEntries] does.
func (l TableListing) Write(w io.Writer) error { return WriteEntries(w, l.Kind, l.Base, l.Lines) }

// Failures counts the entries with a fatal problem.
func (l TableListing) Failures() int {
	n := 0
	for _, e := range l.Lines {
		if anyFatal(e.Problems) {
			n++
		}
	}
	return n
}

func anyFatal(problems []Problem) bool {
	for _, p := range problems {
		if p.Fatal {
			return true
		}
	}
	return false
}
