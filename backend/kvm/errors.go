package kvm

// backendError is an error as the backend returns it: "backend/kvm: " and
// the cause. The prefix is added once, where an error leaves the package
// (see wrap); everything below the exported methods returns bare causes.
type backendError struct{ err error }

func (e *backendError) Error() string { return "backend/kvm: " + e.err.Error() }
func (e *backendError) Unwrap() error { return e.err }

// wrap prefixes err with "backend/kvm: ", once: an error that already
// carries the prefix (a *backendError) is returned as it is. nil stays nil.
func wrap(err error) error {
	switch err.(type) {
	case nil, *backendError:
		return err
	}
	return &backendError{err}
}
