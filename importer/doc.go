// Package importer onboards users in bulk from an xlsx workbook or a CSV
// file: the template an admin downloads, parsing of what they upload,
// validation of every row before anything is written, the job that applies
// the rows, and the result file whose Errors column says what was wrong
// with each row (the seeds' "errors file").
//
// An import is two steps. Submit reads and checks the whole file and
// stores its rows with their errors, so nothing is written to users unless
// the file is acceptable: in ImportAllOrNothing mode (the default, as in
// the seeds) one bad row stops the import, in ImportValidRows mode the good
// rows go ahead. Run then applies the rows of a queued job. It claims the
// job through a store work lease, so on a cluster exactly one node runs it
// and another one takes over if that node dies; it records each row as it
// goes, so a restarted job continues where it stopped, and rows are keyed
// by login, so neither a restart nor importing the same file again creates
// anyone twice.
//
// Users change through the same functions every other door uses: the
// store's CreateUser/UpdateUser and the licensing engine's Assign and
// GroupChanged, so a group → seat rule fires for an imported user exactly
// as it does for one pushed by an identity provider.
//
// The package does not speak HTTP and imports only store and licensing
// (DESIGN.md §2): the password hasher and the invitation sender are
// functions the caller hands to the Runner.
package importer
