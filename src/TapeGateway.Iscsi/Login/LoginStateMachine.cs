using System.Buffers;
using TapeGateway.Iscsi.Session;

namespace TapeGateway.Iscsi.Login;

/// <summary>
/// The target side of one connection's login phase (RFC 7143 §6.3, §11.12, §11.13): stage transitions
/// SecurityNegotiation (0) → LoginOperationalNegotiation (1) → FullFeaturePhase (3), text continuation (C bit),
/// AuthMethod/CHAP and operational key negotiation. Transport-independent: feed it each Login Request with
/// <see cref="Process"/> and send back the returned <see cref="LoginStep"/>. Not thread-safe (one per connection).
/// </summary>
/// <example>
/// <code>
/// var login = new LoginStateMachine(resolver, LoginNegotiationOptions.FromIscsiOptions(options), binder);
/// while (!login.IsComplete)
/// {
///     var pdu = await ReadPduAsync();   // a non-login PDU: send login.RejectInvalidRequest(fields) and close
///     var req = LoginRequestFields.Parse(pdu.Bhs);
///     var step = login.Process(req, pdu.Data.Span);
///     // Login Requests are immediate: ExpCmdSN = req.CmdSn; MaxCmdSN = req.CmdSn + window - 1.
///     step.Response.WriteBhs(bhs, step.Text.Length, statSn++, req.CmdSn, req.CmdSn + window - 1);
///     await SendAsync(bhs, step.Text);  // digests stay off until full feature phase
///     if (step.IsReject) { close; return; }
/// }
/// var result = login.Result;   // names, SessionType, SessionParameters, ConnectionParameters, TSIH
/// </code>
/// </example>
public sealed class LoginStateMachine
{
    /// <summary>
    /// Default MaxRecvDataSegmentLength in force during login (RFC 7143 §13.12: the declaration takes effect after
    /// login), so no Login Response may carry more text than this.
    /// </summary>
    public const int LoginMaxDataSegmentLength = 8192;

    private readonly ILoginTargetResolver _resolver;
    private readonly LoginNegotiationOptions _options;
    private readonly ILoginSessionBinder? _binder;
    private readonly TextSegmentAccumulator _accumulator = new();
    private readonly OperationalNegotiator _negotiator;
    private readonly HashSet<string> _seenKeys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _declared = new(StringComparer.Ordinal);

    private ChapAuthenticator _auth = new(null);
    private LoginRequestFields _first;
    private bool _started;
    private bool _identified;
    private bool _identifyingRequest;
    private bool _offersMade;
    private string? _deferredFirstBurst;
    private bool _identityDeclared;
    private bool _mrdslDeclared;
    private LoginStage _stage;
    private LoginTargetInfo? _target;
    private SessionType _sessionType = SessionType.Normal;
    private string? _initiatorName;
    private string? _initiatorAlias;
    private LoginResult? _result;

    /// <param name="resolver">Target lookup and CHAP configuration.</param>
    /// <param name="options">Our negotiation limits; validated here.</param>
    /// <param name="binder">
    /// Session-table hooks (TSIH allocation, existing-session checks). When null, a TSIH≠0 login is rejected with
    /// 0x020A and the final response carries TSIH 0: the caller must then assign one itself.
    /// </param>
    public LoginStateMachine(ILoginTargetResolver resolver, LoginNegotiationOptions options, ILoginSessionBinder? binder = null)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _resolver = resolver;
        _options = options;
        _binder = binder;
        _negotiator = new OperationalNegotiator(options);
    }

    /// <summary>True once login succeeded (full feature phase reached) or failed.</summary>
    public bool IsComplete => Succeeded || Status != LoginStatus.Success;

    /// <summary>True when the last response moved the connection to full feature phase.</summary>
    public bool Succeeded => _result is not null;

    /// <summary>Success while in progress or after success; the reject status after failure.</summary>
    public LoginStatus Status { get; private set; }

    /// <summary>Reason for a failed login (for logs; never contains secrets).</summary>
    public string? FailureReason { get; private set; }

    /// <summary>Stage the next Login Request must carry in CSG.</summary>
    public LoginStage CurrentStage => _stage;

    /// <summary>The outcome of a successful login.</summary>
    /// <exception cref="InvalidOperationException">Login has not succeeded.</exception>
    public LoginResult Result => _result ?? throw new InvalidOperationException("login has not completed successfully");

    /// <summary>
    /// Processes one Login Request (its BHS fields and data segment) and returns the Login Response to send.
    /// A response with a non-zero status ends the login; the connection should send it and close.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called after the login completed.</exception>
    public LoginStep Process(in LoginRequestFields request, ReadOnlySpan<byte> dataSegment)
    {
        if (IsComplete)
        {
            throw new InvalidOperationException("login phase already complete");
        }

        try
        {
            return ProcessCore(request, dataSegment);
        }
        catch (TextKeyFormatException e)
        {
            return Reject(request, LoginStatus.InitiatorError, "malformed text: " + e.Message);
        }
        catch (LoginRejectedException e)
        {
            return Reject(request, e.Status, e.Message);
        }
    }

    /// <summary>
    /// Builds the reject response for a non-login PDU received during the login phase (RFC 7143 §6.3: "Invalid
    /// request during login", 0x020B) and completes this login as failed.
    /// </summary>
    public LoginStep RejectInvalidRequest(in LoginRequestFields request) =>
        Reject(request, LoginStatus.InvalidDuringLogin, "non-login PDU during the login phase");

    private LoginStep ProcessCore(in LoginRequestFields request, ReadOnlySpan<byte> dataSegment)
    {
        CheckHeader(request);

        // RFC 7143 §11.12.2 / §6.3: while C=1 the text is incomplete; answer with an empty response (T=0) and wait.
        if (!_accumulator.Append(dataSegment, request.Continue, out var pairs))
        {
            return Respond(request, transit: false, next: default, []);
        }

        var responses = new List<TextKeyValue>();
        _identifyingRequest = !_identified;
        if (_identifyingRequest)
        {
            Identify(request, pairs);
        }

        var authKeys = new List<TextKeyValue>();
        foreach (var pair in pairs)
        {
            HandleKey(pair, authKeys, responses);
        }

        // Deferred so that InitialR2T/ImmediateData from the same request are taken into account (RFC 7143 §13.14).
        if (_deferredFirstBurst is { } firstBurst)
        {
            _deferredFirstBurst = null;
            responses.Add(new TextKeyValue(
                LoginKeyTable.FirstBurstLength,
                _negotiator.FirstBurstIrrelevant ? TextKeyValues.Irrelevant : _negotiator.Answer(LoginKeyTable.Get(LoginKeyTable.FirstBurstLength), firstBurst)));
        }

        if (_stage == LoginStage.SecurityNegotiation)
        {
            var status = _auth.Step(authKeys, responses, out var reason);
            if (status != LoginStatus.Success)
            {
                throw new LoginRejectedException(status, reason ?? "authentication failed");
            }
        }

        // RFC 7143 §13.6/§13.9: TargetAlias and TargetPortalGroupTag go in the first Login Response of a Normal session.
        if (!_identityDeclared)
        {
            _identityDeclared = true;
            if (_sessionType == SessionType.Normal && _target is not null)
            {
                responses.Add(new TextKeyValue(LoginKeyTable.TargetPortalGroupTag, IscsiValueEncoding.FormatNumber(_target.PortalGroupTag)));
                if (!string.IsNullOrEmpty(_target.Alias))
                {
                    responses.Add(new TextKeyValue(LoginKeyTable.TargetAlias, _target.Alias));
                }
            }
        }

        if (!request.Transit)
        {
            DeclareMaxRecvIfDue(responses, request, leavingForFullFeature: false);
            return Respond(request, transit: false, next: default, responses);
        }

        var next = (LoginStage)request.NextStage;
        if (_stage == LoginStage.SecurityNegotiation && !_auth.CanLeaveSecurityStage)
        {
            if (_auth.Required && !_seenKeys.Contains(LoginKeyTable.AuthMethod))
            {
                // RFC 7143 §6.3 / §12: the initiator tries to leave the security stage without authenticating.
                throw new LoginRejectedException(LoginStatus.AuthenticationFailure, "target requires CHAP; initiator did not negotiate AuthMethod");
            }

            // CHAP still in progress: we may not agree to transit yet (T=0 answer, RFC 7143 §6.3).
            return Respond(request, transit: false, next: default, responses);
        }

        if (next == LoginStage.FullFeaturePhase)
        {
            if (_negotiator.HasPendingOffers)
            {
                throw new LoginRejectedException(LoginStatus.InitiatorError, "initiator did not answer the keys the target offered");
            }

            if (_sessionType == SessionType.Normal && _first.Tsih == 0 && !_offersMade)
            {
                _offersMade = true;
                var offers = _negotiator.MakeOffers();
                if (offers.Count > 0)
                {
                    // Our offers need answers, so this response must not transit (RFC 7143 §6.2, §6.3).
                    responses.AddRange(offers);
                    DeclareMaxRecvIfDue(responses, request, leavingForFullFeature: true);
                    return Respond(request, transit: false, next: default, responses);
                }
            }

            DeclareMaxRecvIfDue(responses, request, leavingForFullFeature: true);
            var result = BuildResult();
            var tsih = _first.Tsih;
            if (_binder is not null)
            {
                var bound = _binder.Bind(result, out tsih);
                if (bound != LoginStatus.Success)
                {
                    throw new LoginRejectedException(bound, "session binding refused the login");
                }
            }

            _result = result with { Tsih = tsih };
            _stage = LoginStage.FullFeaturePhase;
            return Respond(request, transit: true, next, responses, tsih);
        }

        // Security → operational.
        _stage = next;
        DeclareMaxRecvIfDue(responses, request, leavingForFullFeature: false);
        return Respond(request, transit: true, next, responses);
    }

    private void CheckHeader(in LoginRequestFields request)
    {
        if (!_started)
        {
            _started = true;
            _first = request;

            // RFC 7143 §11.12.4: only version 0 exists; a Version-min above it cannot be served.
            if (request.VersionMin > 0)
            {
                throw new LoginRejectedException(LoginStatus.UnsupportedVersion, "initiator requires a protocol version above 0");
            }

            if (request.CurrentStage is not ((byte)LoginStage.SecurityNegotiation or (byte)LoginStage.LoginOperationalNegotiation))
            {
                throw new LoginRejectedException(LoginStatus.InvalidDuringLogin, $"first Login Request has CSG={request.CurrentStage}");
            }

            _stage = (LoginStage)request.CurrentStage;
        }
        else
        {
            // RFC 7143 §11.12.4, §11.12.5, §11.12.6: version range, ISID, TSIH and CID stay fixed during login.
            if (request.Isid != _first.Isid || request.Tsih != _first.Tsih || request.Cid != _first.Cid)
            {
                throw new LoginRejectedException(LoginStatus.InvalidDuringLogin, "ISID, TSIH or CID changed during login");
            }

            if (request.VersionMax != _first.VersionMax || request.VersionMin != _first.VersionMin)
            {
                throw new LoginRejectedException(LoginStatus.InvalidDuringLogin, "version range changed during login");
            }

            if (request.CurrentStage != (byte)_stage)
            {
                // The initiator may change stage only after a response with T=1 (RFC 7143 §6.3).
                throw new LoginRejectedException(LoginStatus.InvalidDuringLogin, $"CSG={request.CurrentStage} but the login is in stage {(byte)_stage}");
            }
        }

        if (request.Transit && request.Continue)
        {
            // RFC 7143 §11.12.2: "If the C bit is set to 1, the T bit MUST be 0."
            throw new LoginRejectedException(LoginStatus.InvalidDuringLogin, "T and C both set");
        }

        if (request.Transit)
        {
            // Allowed transitions: 0→1, 0→3, 1→3 (RFC 7143 §6.3; NSG 2 is reserved, and stages never go back).
            var valid = request.NextStage is (byte)LoginStage.LoginOperationalNegotiation or (byte)LoginStage.FullFeaturePhase
                && request.NextStage > request.CurrentStage;
            if (!valid)
            {
                throw new LoginRejectedException(LoginStatus.InvalidDuringLogin, $"invalid stage transition {request.CurrentStage}→{request.NextStage}");
            }
        }
    }

    /// <summary>RFC 7143 §6.3: the first (complete) request carries InitiatorName, SessionType and TargetName.</summary>
    private void Identify(in LoginRequestFields request, List<TextKeyValue> pairs)
    {
        _identified = true;
        string? targetName = null;
        string? sessionType = null;
        foreach (var pair in pairs)
        {
            switch (pair.Key)
            {
                case LoginKeyTable.InitiatorName:
                    _initiatorName ??= pair.Value;
                    break;
                case LoginKeyTable.TargetName:
                    targetName ??= pair.Value;
                    break;
                case LoginKeyTable.SessionType:
                    sessionType ??= pair.Value;
                    break;
            }
        }

        if (string.IsNullOrEmpty(_initiatorName))
        {
            throw new LoginRejectedException(LoginStatus.MissingParameter, "InitiatorName missing from the first Login Request");
        }

        if (_initiatorName.Length > LoginKeyTable.IscsiNameLength)
        {
            throw new LoginRejectedException(LoginStatus.InitiatorError, "InitiatorName longer than 223 bytes");
        }

        _sessionType = sessionType switch
        {
            null or "Normal" => SessionType.Normal,
            "Discovery" => SessionType.Discovery,
            _ => throw new LoginRejectedException(LoginStatus.SessionTypeNotSupported, "unknown SessionType"),
        };

        ChapCredentials? chap;
        if (_sessionType == SessionType.Discovery)
        {
            // RFC 7143 §13.4: TargetName is not required (and ignored) for discovery sessions.
            chap = _resolver.DiscoveryChap;
        }
        else
        {
            if (string.IsNullOrEmpty(targetName))
            {
                throw new LoginRejectedException(LoginStatus.MissingParameter, "TargetName missing from the first Login Request of a Normal session");
            }

            _target = _resolver.Resolve(targetName)
                ?? throw new LoginRejectedException(LoginStatus.NotFound, "target not found");
            if (_target.Removed)
            {
                throw new LoginRejectedException(LoginStatus.TargetRemoved, "target removed");
            }

            if (!_target.IsInitiatorAllowed(_initiatorName))
            {
                throw new LoginRejectedException(LoginStatus.AuthorizationFailure, "initiator not in the target's allow-list");
            }

            chap = _target.Chap;
        }

        _auth = new ChapAuthenticator(chap);
        if (_auth.Required && _stage != LoginStage.SecurityNegotiation)
        {
            // The initiator skipped the security stage of a target that requires authentication.
            throw new LoginRejectedException(LoginStatus.AuthenticationFailure, "target requires CHAP; initiator started in the operational stage");
        }

        if (_binder is not null)
        {
            var admission = new LoginAdmission(request.Isid, request.Tsih, request.Cid, _initiatorName, _target?.Name, _sessionType);
            var status = _binder.Admit(admission);
            if (status != LoginStatus.Success)
            {
                throw new LoginRejectedException(status, "session binder refused the login");
            }
        }
        else if (request.Tsih != 0)
        {
            throw new LoginRejectedException(LoginStatus.SessionDoesNotExist, "TSIH names no session (no session binder)");
        }
    }

    private static readonly HashSet<string> s_loginDeclarations = new(StringComparer.Ordinal)
    {
        "InitiatorName", "InitiatorAlias", "TargetName", "SessionType",
    };

    private bool IsRestatedDeclaration(TextKeyValue pair) =>
        s_loginDeclarations.Contains(pair.Key)
        && _declared.TryGetValue(pair.Key, out var previous)
        && string.Equals(previous, pair.Value, StringComparison.Ordinal);

    private void HandleKey(TextKeyValue pair, List<TextKeyValue> authKeys, List<TextKeyValue> responses)
    {
        if (s_loginDeclarations.Contains(pair.Key))
        {
            _declared.TryAdd(pair.Key, pair.Value);
        }

        var key = LoginKeyTable.Find(pair.Key);
        var isAnswer = key is not null && _negotiator.IsOffered(pair.Key);
        if (!isAnswer && !_seenKeys.Add(pair.Key))
        {
            // libiscsi (and others) repeat their login declarations — InitiatorName, TargetName, SessionType… — in the
            // first operational PDU after a security stage that ended with AuthMethod=None. Restating the same value
            // negotiates nothing, so it is accepted silently; only a changed value is a protocol error.
            if (IsRestatedDeclaration(pair))
            {
                return;
            }

            // RFC 7143 §6.2: a key may not be declared/negotiated twice; the target answers with a login reject.
            throw new LoginRejectedException(LoginStatus.InitiatorError, $"key {pair.Key} sent more than once");
        }

        if (key is null)
        {
            // RFC 7143 §6.2: unknown keys, including X- and X# extensions, are answered NotUnderstood.
            if (!TextKeyValues.IsReservedResponse(pair.Value))
            {
                responses.Add(new TextKeyValue(pair.Key, TextKeyValues.NotUnderstood));
            }

            return;
        }

        if (isAnswer)
        {
            if (!_negotiator.AcceptAnswer(key, pair.Value))
            {
                throw new LoginRejectedException(LoginStatus.InitiatorError, $"unacceptable answer for {key.Name}");
            }

            return;
        }

        if (TextKeyValues.IsReservedResponse(pair.Value))
        {
            // A response constant without an offer from us carries no information; nothing to answer.
            return;
        }

        if ((key.Senders & KeySenders.Initiator) == 0)
        {
            // Target-only keys (TargetAlias, TargetAddress, TargetPortalGroupTag) are not the initiator's to send.
            responses.Add(new TextKeyValue(key.Name, TextKeyValues.Reject));
            return;
        }

        var phase = _stage == LoginStage.SecurityNegotiation ? LoginKeyPhase.Security : LoginKeyPhase.Operational;
        if ((key.Phase & phase) == 0)
        {
            // e.g. CHAP keys in the operational stage, SendTargets (full feature phase only) during login.
            responses.Add(new TextKeyValue(key.Name, TextKeyValues.Reject));
            return;
        }

        if (System.Text.Encoding.UTF8.GetByteCount(pair.Value) > key.MaxValueLength)
        {
            responses.Add(new TextKeyValue(key.Name, TextKeyValues.Reject));
            return;
        }

        switch (key.Rule)
        {
            case ReconcileRule.Authentication:
                authKeys.Add(pair);
                return;

            case ReconcileRule.Declarative:
                HandleDeclaration(key, pair.Value, responses);
                return;

            case ReconcileRule.AlwaysIrrelevant:
                responses.Add(new TextKeyValue(key.Name, TextKeyValues.Irrelevant));
                return;

        }

        // Negotiated keys (And/Or/Min/Max/list).
        if (key.Scope == LoginKeyScope.SessionWide
            && ((key.IrrelevantForDiscovery && _sessionType == SessionType.Discovery) || _first.Tsih != 0))
        {
            // RFC 7143 §13 "Irrelevant when: SessionType=Discovery"; and session-wide keys are fixed by the leading
            // connection, so on a connection joining a session they are irrelevant.
            responses.Add(new TextKeyValue(key.Name, TextKeyValues.Irrelevant));
            return;
        }

        if (key.Name == LoginKeyTable.FirstBurstLength)
        {
            _deferredFirstBurst = pair.Value;
            return;
        }

        responses.Add(new TextKeyValue(key.Name, _negotiator.Answer(key, pair.Value)));
    }

    private void HandleDeclaration(LoginKeyDefinition key, string value, List<TextKeyValue> responses)
    {
        switch (key.Name)
        {
            case LoginKeyTable.MaxRecvDataSegmentLength:
                if (!_negotiator.Declare(key, value))
                {
                    responses.Add(new TextKeyValue(key.Name, TextKeyValues.Reject));
                }

                break;

            case LoginKeyTable.InitiatorName or LoginKeyTable.TargetName or LoginKeyTable.SessionType:
                // Only meaningful in the first request (consumed by Identify); later appearances after a first
                // request that lacked them would change the session's identity mid-login.
                if (!_identifyingRequest)
                {
                    throw new LoginRejectedException(LoginStatus.InitiatorError, $"{key.Name} may only be sent in the first Login Request");
                }

                break;

            case LoginKeyTable.InitiatorAlias:
                _initiatorAlias = value;
                break;
        }
    }

    private void DeclareMaxRecvIfDue(List<TextKeyValue> responses, in LoginRequestFields request, bool leavingForFullFeature)
    {
        // RFC 7143 §13.12: each side declares its own MaxRecvDataSegmentLength; we do it in the first response of
        // the operational stage, or in the response that goes straight from security to full feature phase.
        if (!_mrdslDeclared && (leavingForFullFeature || request.CurrentStage == (byte)LoginStage.LoginOperationalNegotiation))
        {
            _mrdslDeclared = true;
            responses.Add(new TextKeyValue(LoginKeyTable.MaxRecvDataSegmentLength, IscsiValueEncoding.FormatNumber(_options.MaxRecvDataSegmentLength)));
        }
    }

    private LoginResult BuildResult() => new()
    {
        InitiatorName = _initiatorName!,
        InitiatorAlias = _initiatorAlias,
        TargetName = _target?.Name,
        Target = _target,
        SessionType = _sessionType,
        Isid = _first.Isid,
        Tsih = _first.Tsih,
        Cid = _first.Cid,
        InitialCmdSn = _first.CmdSn,
        PortalGroupTag = _target?.PortalGroupTag ?? _resolver.PortalGroupTag,
        IsNewSession = _first.Tsih == 0,
        AuthenticatedUser = _auth.AuthenticatedUser,
        MutualAuthentication = _auth.Mutual,
        Session = _negotiator.BuildSessionParameters(),
        Connection = _negotiator.BuildConnectionParameters(),
        NegotiatedKeys = new Dictionary<string, string>(_negotiator.Agreed, StringComparer.Ordinal),
    };

    private LoginStep Respond(in LoginRequestFields request, bool transit, LoginStage next, List<TextKeyValue> responses, ushort? tsih = null)
    {
        var writer = new ArrayBufferWriter<byte>();
        TextKeyValues.Write(writer, responses);
        if (writer.WrittenCount > LoginMaxDataSegmentLength)
        {
            // Our answers are a few hundred bytes; a response this large means a bug, not a reason to split PDUs.
            throw new LoginRejectedException(LoginStatus.TargetError, "login response text exceeds 8192 bytes");
        }

        var fields = new LoginResponseFields
        {
            Transit = transit,
            Continue = false,
            CurrentStage = (LoginStage)request.CurrentStage,
            NextStage = transit ? next : default,
            Isid = request.Isid,
            Tsih = tsih ?? request.Tsih,
            InitiatorTaskTag = request.InitiatorTaskTag,
            Status = LoginStatus.Success,
        };
        return new LoginStep(fields, writer.WrittenSpan.ToArray(), null);
    }

    private LoginStep Reject(in LoginRequestFields request, LoginStatus status, string reason)
    {
        _accumulator.Reset();
        Status = status;
        FailureReason = reason;
        var fields = new LoginResponseFields
        {
            Transit = false,
            Continue = false,
            CurrentStage = request.CurrentStage <= (byte)LoginStage.LoginOperationalNegotiation ? (LoginStage)request.CurrentStage : _stage,
            Isid = request.Isid,
            Tsih = request.Tsih,
            InitiatorTaskTag = request.InitiatorTaskTag,
            Status = status,
        };
        return new LoginStep(fields, [], reason);
    }

    private sealed class LoginRejectedException : Exception
    {
        public LoginRejectedException()
        {
        }

        public LoginRejectedException(string message)
            : base(message)
        {
        }

        public LoginRejectedException(string message, Exception inner)
            : base(message, inner)
        {
        }

        public LoginRejectedException(LoginStatus status, string message)
            : base(message)
        {
            Status = status;
        }

        public LoginStatus Status { get; } = LoginStatus.InitiatorError;
    }
}
