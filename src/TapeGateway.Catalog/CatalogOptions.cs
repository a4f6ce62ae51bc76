using Microsoft.Extensions.Options;

namespace TapeGateway.Catalog;

/// <summary>Catalog settings, bound from the <c>Catalog</c> configuration section.</summary>
public sealed class CatalogOptions
{
    public const string SectionName = "Catalog";

    /// <summary>Path of the SQLite database file. Required; a file (not :memory:) because WAL and backups need one.</summary>
    public string DatabasePath { get; set; } = "";

    /// <summary>How long a connection waits for another writer before failing with SQLITE_BUSY.</summary>
    public int BusyTimeoutMilliseconds { get; set; } = 5000;

    /// <summary>Test-only: allow tapes smaller than 100 GiB (any whole number of MiB) so end-of-medium can be exercised.</summary>
    public bool AllowSmallTapes { get; set; }

    /// <summary>Copy an existing database (VACUUM INTO) before applying migrations to it.</summary>
    public bool BackupBeforeUpgrade { get; set; } = true;
}

/// <summary>Rejects unusable settings at start-up rather than on the first tape operation.</summary>
internal sealed class CatalogOptionsValidator : IValidateOptions<CatalogOptions>
{
    public ValidateOptionsResult Validate(string? name, CatalogOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DatabasePath))
        {
            failures.Add("Catalog:DatabasePath is required.");
        }
        else if (options.DatabasePath.Trim().StartsWith(':'))
        {
            failures.Add("Catalog:DatabasePath must be a file path; in-memory databases cannot use WAL or be backed up.");
        }
        else if (options.DatabasePath.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            failures.Add("Catalog:DatabasePath contains invalid characters.");
        }

        if (options.BusyTimeoutMilliseconds is < 0 or > 600_000)
        {
            failures.Add("Catalog:BusyTimeoutMilliseconds must be between 0 and 600000.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
