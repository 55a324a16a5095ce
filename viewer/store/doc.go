// Package store keeps the supporter's desk: accounts, their second
// factors, console sessions, API tokens and the searchable audit log.
//
// It speaks database/sql with portable SQL: queries are written with "?"
// placeholders and rebound for the dialect, times are BIGINT Unix
// nanoseconds, booleans are INTEGER 0/1, and the one auto-numbered column
// is spelled per dialect by the migration runner. SQLite (modernc.org/sqlite,
// pure Go) in the data directory is the default; the schema is kept fit
// for PostgreSQL, which a cluster of brokers will share.
//
// Migrations are numbered and applied in order, each in its own
// transaction, and recorded in schema_migrations; Open applies the ones
// a database lacks, so an old data directory is brought up to date on
// start and a newer one is refused rather than misread.
//
//	db, err := store.OpenSQLite(ctx, filepath.Join(dataDir, store.SQLiteFile))
//	defer db.Close()
//	err = db.CreateAccount(ctx, store.Account{Name: "anna", DisplayName: "Anna Berger", Team: "Acme Support", Role: store.RoleSupporter}, hash)
package store
