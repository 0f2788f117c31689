// Package verbs holds the typed commands of the tree's ctl files: one
// struct per verb, whose tagged fields are the verb's words, defined once
// and used by the tree (to read lines), by dctl and by the REST bridge (to
// write them). Beside them are the parsers of the values docker's flags
// take (ports, mounts, volumes, sizes, ulimits...): the tree reads a
// create line into Create, and Create into the engine's config with them.
//
// A verb's struct (Create, ContainerStop, ImagePull, ...) tags each field:
//
//	arg:"NAME"           a positional word, in field order; "NAME,optional"
//	                     (the last one); a []string takes the rest ("NAME...",
//	                     at least one unless optional) but for the required
//	                     words after it (save REF... PATH)
//	word:"force"         a bool set by that bare word after the positional ones
//	ctl:"memory"         an option key=value: a string (the last given; empty
//	                     is as absent), a []string (repeatable, in order) or a
//	                     bool (key=true; ctl:"pause,inverse" is true when
//	                     pause=false is given); ctl:"image,required"
//	argv:"CMD ARG..."    the words after "--" ([]string); ",required"
//	usage:"64m"          an option's value in the usage line
//	flag:"memory,m" help:"..."  the command-line flag (see Flags)
//
// From the tags come each verb's ctl.Verb (Spec: name, counts, keys, usage)
// and a Grammar of a ctl file's verbs (Containers, Container, Images, ...),
// whose Parse reads a line into the verb's struct with ctl.Grammar's
// checks and errors; Format writes a struct back as a ctl.Command, and
// Line as a line. Parse(Format(v)) is v.
package verbs
