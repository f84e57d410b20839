"""The console's words in Dutch, French and English, and the language a request asks for."""

from __future__ import annotations

LANGUAGES = ("nl", "fr", "en")
DEFAULT_LANGUAGE = "en"
MAX_ACCEPT_LANGUAGE = 512

WORDS: dict[str, tuple[str, str, str]] = {
    "title": ("Compliance-console", "Console de conformité", "Compliance console"),
    "login": ("Aanmelden", "Se connecter", "Log in"),
    "logout": ("Afmelden", "Se déconnecter", "Log out"),
    "account": ("Account", "Compte", "Account"),
    "password": ("Wachtwoord", "Mot de passe", "Password"),
    "login_failed": (
        "Naam of wachtwoord onjuist.",
        "Nom ou mot de passe incorrect.",
        "Wrong name or password.",
    ),
    "locked": (
        "Dit account is vergrendeld tot",
        "Ce compte est verrouillé jusqu'au",
        "This account is locked until",
    ),
    "throttled": (
        "Te veel pogingen; probeer later opnieuw.",
        "Trop de tentatives ; réessayez plus tard.",
        "Too many attempts; try again later.",
    ),
    "search": ("Zoeken", "Rechercher", "Search"),
    "decisions": ("Beslissingen", "Décisions", "Decisions"),
    "number": ("Nummer", "Numéro", "Number"),
    "campaign": ("Campagne", "Campagne", "Campaign"),
    "advertiser": ("Adverteerder", "Annonceur", "Advertiser"),
    "verdict": ("Beslissing", "Décision", "Verdict"),
    "reason": ("Reden", "Motif", "Reason"),
    "since": ("Vanaf", "Depuis", "Since"),
    "until": ("Tot en met", "Jusqu'au", "Until"),
    "any": ("(alle)", "(tous)", "(any)"),
    "time": ("Tijdstip (Brussel)", "Moment (Bruxelles)", "Time (Brussels)"),
    "list_date": ("Lijstdatum", "Date de la liste", "List date"),
    "outcome": ("Gespreksresultaat", "Résultat de l'appel", "Call outcome"),
    "next": ("Oudere", "Plus anciennes", "Older"),
    "no_results": ("Geen beslissingen gevonden.", "Aucune décision trouvée.", "No decisions."),
    "export_csv": ("Exporteren (CSV)", "Exporter (CSV)", "Export (CSV)"),
    "decision": ("Beslissing", "Décision", "Decision"),
    "dialled": ("Gekozen", "Composé", "Dialled"),
    "rule": ("Toegepaste regel", "Règle appliquée", "Rule applied"),
    "snapshot": ("Lijstmomentopname", "Instantané de la liste", "List snapshot"),
    "listed_on": ("Ingeschreven op", "Inscrit le", "Listed on"),
    "not_listed": ("Niet op de lijst", "Pas sur la liste", "Not listed"),
    "acts_weighed": (
        "Gewogen toestemmingen en bezwaren",
        "Consentements et oppositions pris en compte",
        "Consents and objections weighed",
    ),
    "chain": ("Plaats in de keten", "Place dans la chaîne", "Place in the chain"),
    "chain_ok": ("Keten geverifieerd", "Chaîne vérifiée", "Chain verified"),
    "chain_bad": ("KETEN GEBROKEN", "CHAÎNE ROMPUE", "CHAIN BROKEN"),
    "none": ("Geen", "Aucun", "None"),
    "acts": (
        "Toestemmingen en bezwaren",
        "Consentements et oppositions",
        "Consents and objections",
    ),
    "record_act": ("Akte vastleggen", "Enregistrer un acte", "Record an act"),
    "kind": ("Soort", "Type", "Kind"),
    "consent": ("Toestemming", "Consentement", "Consent"),
    "objection": ("Bezwaar", "Opposition", "Objection"),
    "revocation": ("Intrekking", "Révocation", "Revocation"),
    "date": ("Datum", "Date", "Date"),
    "source": ("Bron", "Source", "Source"),
    "reference": ("Referentie", "Référence", "Reference"),
    "record_id": ("Record-id", "Id de l'enregistrement", "Record id"),
    "save": ("Opslaan", "Enregistrer", "Save"),
    "history": ("Geschiedenis", "Historique", "History"),
    "revoked": ("Ingetrokken", "Révoqué", "Revoked"),
    "created": ("Vastgelegd", "Enregistré", "Recorded"),
    "stored": ("Vastgelegd", "Enregistré", "Stored"),
    "reports": ("Rapporten", "Rapports", "Reports"),
    "report": ("Rapport", "Rapport", "Report"),
    "download": ("Downloaden", "Télécharger", "Download"),
    "events": ("Gebeurtenissen", "Événements", "Events"),
    "licence_end": ("Einde van de licentie", "Fin de la licence", "Licence ends"),
    "details": ("Details", "Détails", "Details"),
    "accounts": ("Accounts", "Comptes", "Accounts"),
    "role": ("Rol", "Rôle", "Role"),
    "add_account": ("Account toevoegen", "Ajouter un compte", "Add an account"),
    "unlock": ("Ontgrendelen", "Déverrouiller", "Unlock"),
    "locked_until": ("Vergrendeld tot", "Verrouillé jusqu'au", "Locked until"),
    "forbidden": (
        "Uw rol laat dit niet toe.",
        "Votre rôle ne le permet pas.",
        "Your role does not allow this.",
    ),
    "bad_form": (
        "Formulier verlopen of ongeldig; probeer opnieuw.",
        "Formulaire expiré ou invalide ; réessayez.",
        "Form expired or invalid; try again.",
    ),
    "not_found": ("Niet gevonden.", "Introuvable.", "Not found."),
    "several_nodes": (
        "Meerdere nodes gaven deze beslissings-id; kies de node:",
        "Plusieurs nœuds ont donné cet identifiant de décision ; choisissez le nœud :",
        "Several nodes gave this decision id; choose the node:",
    ),
    "invalid": ("Ongeldige invoer", "Saisie invalide", "Invalid input"),
    "unavailable": (
        "Het beslissingsregister is niet beschikbaar; niets getoond.",
        "Le registre des décisions est indisponible ; rien n'est affiché.",
        "The decision log is unavailable; nothing shown.",
    ),
    "language": ("Taal", "Langue", "Language"),
    "node": ("Knooppunt", "Nœud", "Node"),
    "nodes": ("Knooppunten", "Nœuds", "Nodes"),
    "pbx": ("PBX", "PBX", "PBX"),
    "sha256": ("sha256", "sha256", "sha256"),
    "rows": ("Nummers", "Numéros", "Rows"),
    "imported": ("Ingevoerd (Brussel)", "Importée (Bruxelles)", "Imported (Brussels)"),
    "last_received": (
        "Laatst ontvangen (Brussel)",
        "Dernière réception (Bruxelles)",
        "Last received (Brussels)",
    ),
    "state": ("Toestand", "État", "State"),
    "in_step": ("in orde", "à jour", "in step"),
    "flag_behind": ("ACHTER", "EN RETARD", "BEHIND"),
    "flag_differs": ("WIJKT AF", "DIFFÈRE", "DIFFERS"),
    "flag_no_list": ("GEEN LIJST", "PAS DE LISTE", "NO LIST"),
    "flag_silent": ("STIL", "SILENCIEUX", "SILENT"),
    "ago_s": ("%d s geleden", "il y a %d s", "%d s ago"),
    "ago_min": ("%d min geleden", "il y a %d min", "%d min ago"),
    "ago_h": ("%d u geleden", "il y a %d h", "%d h ago"),
    "ago_d": ("%d d geleden", "il y a %d j", "%d d ago"),
    "nodes_central": (
        "De lijst die elk knooppunt toepast, zoals de centrale kopie van hun registers ze toont.",
        "La liste que chaque nœud applique, selon la copie centrale de leurs registres.",
        "The list each node applies, as the central copy of their logs shows it.",
    ),
    "nodes_silent_after": (
        "STIL: niets ontvangen sinds meer dan %d u.",
        "SILENCIEUX : rien reçu depuis plus de %d h.",
        "SILENT: nothing received for over %d h.",
    ),
    "nodes_newest": ("Nieuwste lijst", "Liste la plus récente", "Newest list"),
    "nodes_none": (
        "De centrale kopie bevat nog geen records: geen knooppunt te tonen.",
        "La copie centrale ne contient encore aucun enregistrement : aucun nœud à montrer.",
        "The central copy holds no records yet: no node to show.",
    ),
    "nodes_unavailable": (
        "De centrale opslag is niet beschikbaar; geen knooppunt getoond.",
        "Le stockage central est indisponible ; aucun nœud n'est affiché.",
        "The central store is unavailable; no node shown.",
    ),
    "nodes_busy": (
        "De vorige lezing van de knooppunten loopt nog; probeer later opnieuw.",
        "La lecture précédente des nœuds est en cours ; réessayez plus tard.",
        "The previous reading of the nodes is still running; try again later.",
    ),
    "this_node": ("Dit knooppunt", "Ce nœud", "This node"),
    "check": ("Controle", "Contrôle", "Check"),
    "check_ok": ("in orde", "OK", "ok"),
    "check_failed": ("MISLUKT", "ÉCHEC", "FAILED"),
    "healthy": (
        "Alle controles slagen.",
        "Tous les contrôles réussissent.",
        "Every check passes.",
    ),
    "unhealthy": (
        "Controles mislukt: %d.",
        "Contrôles en échec : %d.",
        "Checks failing: %d.",
    ),
    "checks_hidden": (
        "%d controles meer niet getoond.",
        "%d contrôles de plus non affichés.",
        "%d more checks not shown.",
    ),
    "not_answering": (
        "De dienst antwoordt niet",
        "Le service ne répond pas",
        "The service is not answering",
    ),
    "health_too_large": (
        "Het antwoord van de dienst is te groot; niet getoond",
        "La réponse du service est trop grande ; non affichée",
        "The service's answer is too large; not shown",
    ),
    "health_unreadable": (
        "Het antwoord van de dienst is geen gezondheidsrapport",
        "La réponse du service n'est pas un rapport de santé",
        "The service's answer is not a health report",
    ),
    "proxy_refused": (
        "De proxy meldt een onbekend of vergrendeld account aan; toegang geweigerd.",
        "Le proxy annonce un compte inconnu ou verrouillé ; accès refusé.",
        "The proxy names an unknown or locked account; access refused.",
    ),
}


def word(key: str, language: str) -> str:
    """One word or sentence in `language`."""
    return WORDS[key][LANGUAGES.index(language)]


def choose(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language a request asks for: the switch, the remembered choice, then the browser."""
    for explicit in (query, cookie):
        if explicit in LANGUAGES:
            return explicit
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "")[:MAX_ACCEPT_LANGUAGE].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            weighted.append((-quality, index, primary))
    return min(weighted)[2] if weighted else DEFAULT_LANGUAGE
