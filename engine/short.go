package engine

// short returns the first 12 characters of an id, as docker shows it.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
