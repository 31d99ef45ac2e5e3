using NATS.Client.Core;

namespace EdgeSelector.Fleet;

/// <summary>
/// How a fleet connection proves who it is to the NATS servers and encrypts the traffic (docs/fleet.md, "Security").
/// At most one way to authenticate: a NATS credentials file (a user JWT and its NKey seed, <c>nsc</c>'s
/// <c>.creds</c>), a token file, or a user name with a password file. TLS: a CA file to verify the servers with (and,
/// for servers that verify clients, a client certificate and key); with any of them the connection must be TLS
/// (<see cref="TlsMode.Require"/>). Secrets are read from files, never taken as values, so they do not show in a
/// process list. The node sets these from <c>EdgeSelector:Nats</c>, <c>edgesel</c> from <c>EDGESEL_NATS_*</c>.
/// </summary>
public sealed record FleetSecurity
{
    /// <summary>Nothing: a plain connection (or whatever the URL says: <c>tls://</c>, <c>user:pass@</c>).</summary>
    public static readonly FleetSecurity None = new();

    /// <summary>A NATS credentials file (<c>.creds</c>: user JWT and NKey seed).</summary>
    public string? CredsFile { get; init; }

    /// <summary>A file holding the NATS authorization token (surrounding white space ignored).</summary>
    public string? TokenFile { get; init; }

    /// <summary>The NATS user name (with <see cref="PasswordFile"/>).</summary>
    public string? User { get; init; }

    /// <summary>A file holding <see cref="User"/>'s password (surrounding white space ignored).</summary>
    public string? PasswordFile { get; init; }

    /// <summary>A PEM file of the CA certificate(s) the servers' certificates are verified with; makes TLS required.</summary>
    public string? TlsCaFile { get; init; }

    /// <summary>A PEM client certificate, for servers that verify clients (with <see cref="TlsKeyFile"/>); makes TLS required.</summary>
    public string? TlsCertFile { get; init; }

    /// <summary>The PEM private key of <see cref="TlsCertFile"/>.</summary>
    public string? TlsKeyFile { get; init; }

    /// <summary>
    /// The first problem with these settings as (the setting's name, why), or null: more than one way to authenticate,
    /// a user without a password file or the reverse, a certificate without its key or the reverse, a file that does
    /// not exist or a secret file that is empty.
    /// </summary>
    public (string Setting, string Problem)? Check()
    {
        var ways = (Given(CredsFile) ? 1 : 0) + (Given(TokenFile) ? 1 : 0) + (Given(User) || Given(PasswordFile) ? 1 : 0);
        if (ways > 1)
        {
            return (Given(CredsFile) ? nameof(CredsFile) : nameof(TokenFile), "is one of three ways to authenticate (CredsFile, TokenFile, User with PasswordFile): give one");
        }

        if (Given(User) != Given(PasswordFile))
        {
            return Given(User) ? (nameof(PasswordFile), "is needed with User") : (nameof(User), "is needed with PasswordFile");
        }

        if (Given(TlsCertFile) != Given(TlsKeyFile))
        {
            return Given(TlsCertFile) ? (nameof(TlsKeyFile), "is needed with TlsCertFile") : (nameof(TlsCertFile), "is needed with TlsKeyFile");
        }

        foreach (var (setting, path) in Files())
        {
            if (!File.Exists(path))
            {
                return (setting, $"names {path}, which does not exist");
            }
        }

        foreach (var (setting, path) in new[] { (nameof(TokenFile), TokenFile), (nameof(PasswordFile), PasswordFile) })
        {
            if (Given(path) && string.IsNullOrWhiteSpace(ReadSecret(path!)))
            {
                return (setting, $"names {path}, which is empty");
            }
        }

        return null;
    }

    /// <summary>
    /// <paramref name="opts"/> with these settings applied. Throws <see cref="FleetException"/> naming the setting when
    /// <see cref="Check"/> finds a problem or a secret file cannot be read.
    /// </summary>
    public NatsOpts ApplyTo(NatsOpts opts)
    {
        ArgumentNullException.ThrowIfNull(opts);
        if (Check() is { } problem)
        {
            throw new FleetException($"NATS security: {problem.Setting} {problem.Problem}");
        }

        try
        {
            var auth = opts.AuthOpts;
            if (Given(CredsFile))
            {
                auth = auth with { CredsFile = CredsFile };
            }
            else if (Given(TokenFile))
            {
                auth = auth with { Token = ReadSecret(TokenFile!) };
            }
            else if (Given(User))
            {
                auth = auth with { Username = User, Password = ReadSecret(PasswordFile!) };
            }

            var tls = opts.TlsOpts;
            if (Given(TlsCaFile) || Given(TlsCertFile))
            {
                tls = tls with { Mode = TlsMode.Require, CaFile = Given(TlsCaFile) ? TlsCaFile : null, CertFile = TlsCertFile, KeyFile = TlsKeyFile };
            }

            return opts with { AuthOpts = auth, TlsOpts = tls };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FleetException($"NATS security: cannot read a secret file: {e.Message}", e);
        }
    }

    private IEnumerable<(string Setting, string Path)> Files()
    {
        foreach (var (setting, path) in new[]
        {
            (nameof(CredsFile), CredsFile), (nameof(TokenFile), TokenFile), (nameof(PasswordFile), PasswordFile),
            (nameof(TlsCaFile), TlsCaFile), (nameof(TlsCertFile), TlsCertFile), (nameof(TlsKeyFile), TlsKeyFile),
        })
        {
            if (Given(path))
            {
                yield return (setting, path!);
            }
        }
    }

    private static string ReadSecret(string path) => File.ReadAllText(path).Trim();

    private static bool Given(string? value) => !string.IsNullOrWhiteSpace(value);
}
