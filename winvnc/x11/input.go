package x11

type buttonChange struct {
	button byte // 1-8
	down   bool
}

// buttonChanges lists the presses and releases that turn mask from into to.
func buttonChanges(from, to uint8) []buttonChange {
	var out []buttonChange
	for i := range 8 {
		bit := uint8(1) << i
		if from&bit != to&bit {
			out = append(out, buttonChange{byte(i + 1), to&bit != 0})
		}
	}
	return out
}
