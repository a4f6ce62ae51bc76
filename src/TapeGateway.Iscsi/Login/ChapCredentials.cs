using System.Text;

namespace TapeGateway.Iscsi.Login;

/// <summary>
/// CHAP secrets protecting one target or discovery (RFC 7143 §12.1.3). <see cref="UserName"/>/<see cref="Secret"/>
/// authenticate the initiator; <see cref="MutualUserName"/>/<see cref="MutualSecret"/> are the target's own name
/// and secret, used only when the initiator asks for mutual CHAP. Secrets never appear in <see cref="ToString"/> or
/// in exception messages.
/// </summary>
public sealed record ChapCredentials
{
    /// <summary>RFC 7143 §12.1.3 requires at least 96 bits of secret when the link is not encrypted.</summary>
    public const int MinSecretLength = 12;

    /// <summary>Common initiators (Windows, several HBAs) accept at most 16 bytes.</summary>
    public const int MaxSecretLength = 16;

    /// <exception cref="ArgumentException">
    /// A name is empty, a secret is not 12–16 bytes, only half of the mutual pair is given, or the mutual secret equals
    /// the initiator secret (RFC 7143 §12.1.3 forbids reusing a secret in both directions).
    /// </exception>
    public ChapCredentials(string userName, string secret, string? mutualUserName = null, string? mutualSecret = null)
    {
        if (string.IsNullOrEmpty(userName))
        {
            throw new ArgumentException("CHAP user name must not be empty", nameof(userName));
        }

        ValidateSecret(secret, nameof(secret));
        if ((mutualUserName is null) != (mutualSecret is null))
        {
            throw new ArgumentException("mutual CHAP needs both a user name and a secret", nameof(mutualUserName));
        }

        if (mutualUserName is not null)
        {
            if (mutualUserName.Length == 0)
            {
                throw new ArgumentException("mutual CHAP user name must not be empty", nameof(mutualUserName));
            }

            ValidateSecret(mutualSecret!, nameof(mutualSecret));
            if (string.Equals(secret, mutualSecret, StringComparison.Ordinal))
            {
                throw new ArgumentException(
                    "the mutual CHAP secret must differ from the initiator secret (RFC 7143 §12.1.3)", nameof(mutualSecret));
            }
        }

        UserName = userName;
        Secret = secret;
        MutualUserName = mutualUserName;
        MutualSecret = mutualSecret;
    }

    /// <summary>Name the initiator must present in CHAP_N.</summary>
    public string UserName { get; }

    /// <summary>Secret shared with the initiator (UTF-8 bytes are hashed).</summary>
    public string Secret { get; }

    /// <summary>Name the target answers with in CHAP_N for mutual CHAP; null disables mutual CHAP.</summary>
    public string? MutualUserName { get; }

    /// <summary>Target secret for mutual CHAP.</summary>
    public string? MutualSecret { get; }

    public bool SupportsMutual => MutualUserName is not null;

    /// <summary>Builds credentials from the configuration binding; null stays null.</summary>
    public static ChapCredentials? FromOptions(Configuration.ChapOptions? options) =>
        options is null
            ? null
            : new ChapCredentials(
                options.UserName,
                options.Secret,
                string.IsNullOrEmpty(options.MutualUserName) ? null : options.MutualUserName,
                string.IsNullOrEmpty(options.MutualUserName) ? null : options.MutualSecret);

    public override string ToString() =>
        MutualUserName is null ? $"CHAP user '{UserName}'" : $"CHAP user '{UserName}', mutual user '{MutualUserName}'";

    private static void ValidateSecret(string secret, string parameter)
    {
        ArgumentNullException.ThrowIfNull(secret, parameter);
        var length = Encoding.UTF8.GetByteCount(secret);
        if (length is < MinSecretLength or > MaxSecretLength)
        {
            // The length is safe to report; the secret itself is not.
            throw new ArgumentException(
                $"CHAP secret must be {MinSecretLength} to {MaxSecretLength} bytes (RFC 7143 §12.1.3 needs at least 96 bits; "
                + $"many initiators accept at most 16); got {length} bytes",
                parameter);
        }
    }
}
