package gateway

// RunSupersededAtOnce makes e execute every job a new switching command supersedes, right
// after it is marked and before its cancel is stored: the moment a channel worker may pick
// it up.
func RunSupersededAtOnce(e *Engine) {
	e.afterSupersede = func(old []*job) {
		for _, j := range old {
			e.execute(j)
		}
	}
}
