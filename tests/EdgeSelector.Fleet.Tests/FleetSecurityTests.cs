using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Xunit.Abstractions;

namespace EdgeSelector.Fleet.Tests;

/// <summary>
/// NATS credentials and TLS for the fleet (docs/fleet.md, "Security"): a nats-server that requires a token, and one
/// that requires TLS with a certificate from a CA of the test's own. <c>edgesel</c> reads the files from its
/// <c>EDGESEL_NATS_*</c> variables, the node from <c>EdgeSelector:Nats</c>. The variables are process-wide and
/// <c>edgesel</c> runs in this process, so these tests run alone (<see cref="FleetSecurityCollection"/>).
/// </summary>
[Collection(FleetSecurityCollection.Name)]
public sealed class FleetSecurityTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new("es-nats-security-");

    [Fact]
    public async Task Token_MissingOrWrong_IsRefusedSayingSo_FromItsFile_EdgeselAndANodeUseTheFleet()
    {
        var token = "fleet-nats-token-" + Guid.NewGuid().ToString("N");
        using var nats = new NatsCluster(1, "--auth", token);
        var tokenFile = _dir.File("nats.token");
        File.WriteAllText(tokenFile, token + "\n");
        var wrongFile = _dir.File("wrong.token");
        File.WriteAllText(wrongFile, "not-the-token");
        var init = new[] { "fleet", "init", "--nats", nats.Url, "--replicas", "1" };

        var none = Cli.Run(init);
        output.WriteLine(none.Err);
        Assert.Equal(1, none.Exit);
        Assert.Contains($"cannot reach NATS at {nats.Url}", none.Err, StringComparison.Ordinal);
        Assert.Contains("authorization violation", none.Err, StringComparison.OrdinalIgnoreCase);
        using (Variables.Set(("EDGESEL_NATS_TOKEN_FILE", wrongFile)))
        {
            var wrong = Cli.Run(init);
            Assert.Equal(1, wrong.Exit);
            Assert.Contains("authorization violation", wrong.Err, StringComparison.OrdinalIgnoreCase);
        }

        using (Variables.Set(("EDGESEL_NATS_TOKEN_FILE", _dir.File("missing.token"))))
        {
            var missing = Cli.Run(init);
            Assert.Equal(1, missing.Exit);
            Assert.Contains($"$EDGESEL_NATS_TOKEN_FILE names {_dir.File("missing.token")}, which does not exist", missing.Err, StringComparison.Ordinal);
        }

        using (Variables.Set(("EDGESEL_NATS_TOKEN_FILE", tokenFile), ("EDGESEL_NATS_USER", "someone")))
        {
            var two = Cli.Run(init);
            Assert.Equal(1, two.Exit);
            Assert.Contains("$EDGESEL_NATS_TOKEN_FILE is one of three ways to authenticate", two.Err, StringComparison.Ordinal);
        }

        // The token from its file: the fleet is created and a bundle published; a node with the same file serves it.
        var keyFile = _dir.File("bundle.key");
        File.WriteAllText(keyFile, EdgeNode.BundleKey);
        var models = _dir.File("models");
        Cli.Ok("bundle", "--catalog", Path.Combine(AppContext.BaseDirectory, "demo-catalog.json"), "--models", models, "--key-file", keyFile, "--version", "1");
        using (Variables.Set(("EDGESEL_NATS_TOKEN_FILE", tokenFile)))
        {
            Cli.Ok(init);
            Cli.Ok("push", "--models", models, "--nats", nats.Url);
        }

        await using var node = new EdgeNode(1, nats.Url, _dir.Path, $"--EdgeSelector:Nats:TokenFile={tokenFile}");
        node.Start();
        await Wait.UntilAsync(
            async () => await node.GetAsync("/readyz") is { Status: HttpStatusCode.OK } ready && ready.Body.Contains("\"bundle\":1,", StringComparison.Ordinal),
            TimeSpan.FromSeconds(180), "the node with the token file ready on bundle 1 from the fleet", node.Log);
    }

    [Fact]
    public void Tls_TheServersCertificateIsVerifiedWithTheGivenCa_WithoutItTheConnectionIsRefused()
    {
        var (ca, cert, key) = Certificates();
        var otherCa = Certificates().Ca;
        using var nats = new NatsCluster(1, "--tls", "--tlscert", cert, "--tlskey", key);
        var init = new[] { "fleet", "init", "--nats", nats.Url, "--replicas", "1" };

        // No CA: the server's certificate is not trusted; another CA: the same.
        var none = Cli.Run(init);
        output.WriteLine(none.Err);
        Assert.Equal(1, none.Exit);
        Assert.Contains($"cannot reach NATS at {nats.Url}", none.Err, StringComparison.Ordinal);
        using (Variables.Set(("EDGESEL_NATS_CA", otherCa)))
        {
            Assert.Equal(1, Cli.Run(init).Exit);
        }

        using (Variables.Set(("EDGESEL_NATS_CERT", cert)))
        {
            var half = Cli.Run(init);
            Assert.Equal(1, half.Exit);
            Assert.Contains("$EDGESEL_NATS_KEY is needed with $EDGESEL_NATS_CERT", half.Err, StringComparison.Ordinal);
        }

        using (Variables.Set(("EDGESEL_NATS_CA", ca)))
        {
            Cli.Ok(init);
            Cli.Ok("fleet", "status", "--nats", nats.Url);
        }
    }

    public void Dispose() => _dir.Dispose();

    // A CA of the test's own and a server certificate it signed for 127.0.0.1, as PEM files.
    private (string Ca, string Cert, string Key) Certificates()
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=edgeselector-test-ca", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var server = request.Create(ca, now.AddHours(-1), now.AddHours(12), RandomNumberGenerator.GetBytes(8));

        var id = Guid.NewGuid().ToString("N")[..8];
        var paths = (_dir.File($"ca-{id}.pem"), _dir.File($"server-{id}.pem"), _dir.File($"server-{id}.key"));
        File.WriteAllText(paths.Item1, ca.ExportCertificatePem());
        File.WriteAllText(paths.Item2, server.ExportCertificatePem());
        File.WriteAllText(paths.Item3, serverKey.ExportPkcs8PrivateKeyPem());
        return paths;
    }
}

/// <summary>Tests that set <c>EDGESEL_NATS_*</c> (process-wide) run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FleetSecurityCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "fleet security (process environment)";
}

/// <summary>Sets environment variables and puts back what they were on dispose.</summary>
internal sealed class Variables : IDisposable
{
    private readonly (string Name, string? Value)[] _before;

    private Variables((string Name, string Value)[] set)
    {
        _before = [.. set.Select(v => (v.Name, Environment.GetEnvironmentVariable(v.Name)))];
        foreach (var (name, value) in set)
        {
            Environment.SetEnvironmentVariable(name, value);
        }
    }

    public static Variables Set(params (string Name, string Value)[] set) => new(set);

    public void Dispose()
    {
        foreach (var (name, value) in _before)
        {
            Environment.SetEnvironmentVariable(name, value);
        }
    }
}
