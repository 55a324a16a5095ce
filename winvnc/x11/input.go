package x11

// isModifier reports whether ks is a modifier key (Shift_L … Hyper_R, or
// an ISO level/group key): those are pressed as they are.
func isModifier(ks uint32) bool {
	return ks >= 0xffe1 && ks <= 0xffee || ks >= 0xfe01 && ks <= 0xfe0f
}

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
