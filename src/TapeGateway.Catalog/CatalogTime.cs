using System.Data;
using System.Globalization;
using Dapper;

namespace TapeGateway.Catalog;

/// <summary>
/// The one stored time format: ISO-8601 UTC with milliseconds and a Z ("2026-11-02T10:15:30.123Z"). Fixed width, so
/// text comparison in SQL orders times correctly, and readable in the sqlite3 CLI.
/// </summary>
public static class CatalogTime
{
    private const string StoredFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    public static string Format(DateTimeOffset time) =>
        time.UtcDateTime.ToString(StoredFormat, CultureInfo.InvariantCulture);

    public static DateTimeOffset Parse(string text) =>
        DateTimeOffset.ParseExact(text, StoredFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    /// <summary>Truncates to what survives a round trip through the database (milliseconds).</summary>
    public static DateTimeOffset Truncate(DateTimeOffset time) => Parse(Format(time));
}

/// <summary>Dapper handler that stores <see cref="DateTimeOffset"/> in the <see cref="CatalogTime"/> text format.</summary>
internal sealed class DateTimeOffsetHandler : SqlMapper.TypeHandler<DateTimeOffset>
{
    public override void SetValue(IDbDataParameter parameter, DateTimeOffset value)
    {
        parameter.DbType = DbType.String;
        parameter.Value = CatalogTime.Format(value);
    }

    public override DateTimeOffset Parse(object value) => value switch
    {
        string s => CatalogTime.Parse(s),
        _ => throw new DataException($"Expected an ISO-8601 text time, got {value.GetType().Name}."),
    };
}
