//go:build !(linux && arm64)

package main

import (
	"fmt"
	"io"
)

// runGuest refuses: the guest's scenario drives Linux's sysfs and system
// calls, and runs only as the /init of a linux/arm64 guest.
func runGuest(_ []string, out io.Writer) int {
	fmt.Fprintln(out, "tracecapture guest: runs only as the /init of a linux/arm64 guest")
	return 2
}
