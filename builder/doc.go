// Package builder makes images: Dockerfile builds as docker's legacy
// builder runs them, docker commit and docker import. It drives the engine
// through the narrow Backend interface (*engine.Engine is one): run a RUN
// step's container to its end, make an image of a container's changes or
// of an image mount's (the one snapshot primitive commit shares), store
// images, find cached steps.
//
// Builds run as numbered jobs (Builder.NewJob, Job): a client sets the
// options (Job.Configure, or Job.ConfigureImport for an import), sends the
// context as a tar (Job.WriteContext), starts the job (Job.Start, which
// returns once the Dockerfile is parsed) and follows its progress (docker's
// JSON build messages, Job.Progress). The tree shows the jobs under
// /builds.
//
// Parsing is buildkit's (frontend/dockerfile parser, instructions and
// shell lexer, the version docker's legacy builder vendors). Each step is
// an image with its parent and a cache key (parent and the step's container
// config, with COPY/ADD's content sums), kept in the image store: the
// build cache is the images, as docker's legacy cache is. The file work of
// COPY and ADD is package builder/buildctx's.
//
// Entry points: New, Builder.NewJob, Builder.Commit, Builder.Prune.
package builder
