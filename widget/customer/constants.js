// Every constant of the customer widget: defaults, limits, timings, storage
// keys and the UI strings (one table, one column per language).

export const DEFAULT_OPTIONS = Object.freeze({
  // The bridge's address; by default the one that served this file (resolveOptions).
  server: null,
  // Shown in the header and as the chat window's accessible name; default: strings.title.
  title: null,
  // The first, bot-styled line of a new conversation (not stored); default: strings.greeting; "" for none.
  greeting: null,
  language: "en",
  // The corner the launcher sits in: "end" (right in left-to-right pages) or "start".
  position: "end",
  colors: Object.freeze({ primary: "#0b5cad", onPrimary: "#ffffff" }),
  // Overrides of single UI strings, e.g. {talkToPerson: "Speak to someone"}.
  strings: Object.freeze({}),
});

export const POSITIONS = ["end", "start"];
export const COLOR_NAMES = ["primary", "onPrimary"];
// Languages written right to left: the widget's root gets dir="rtl".
export const RTL_LANGUAGES = new Set(["ar", "he", "fa", "ur"]);
// WCAG AA for normal text.
export const MIN_CONTRAST = 4.5;
export const MAX_TITLE_CHARACTERS = 80;
export const MAX_GREETING_CHARACTERS = 500;

// The bridge's limits (docs/bridge-protocol.md).
export const MAX_TEXT_CHARACTERS = 2000;
export const MAX_DETAIL_CHARACTERS = 500;
export const MAX_COMMENT_CHARACTERS = 1000;
// The character counter appears this close to the limit.
export const COUNTER_VISIBLE_FROM = 1800;
export const RATING_SCORES = [1, 2, 3, 4, 5];

// Timings.
export const BOT_TYPING_TIMEOUT_MS = 15000;
// The agent's console may never send "active: false" (closed tab): hide the dots anyway.
export const AGENT_TYPING_TIMEOUT_MS = 15000;
// While the customer types to an agent: "typing" at most this often, and "stopped" after this much quiet.
export const TYPING_SIGNAL_INTERVAL_MS = 3000;
export const TYPING_IDLE_MS = 4000;
export const COUNTDOWN_TICK_MS = 1000;

// Storage: localStorage keys are namespaced by the bridge's address, so two
// widgets of different bridges on one site keep separate conversations.
export const STORAGE_PREFIX = "support-chat:v1";
export const STORAGE_KEYS = Object.freeze({
  conversation: "conversation", // {conversationId, token}
  outbox: "outbox", // unacknowledged sends (Transport's outboxStore)
  seenUpTo: "seen-up-to", // the newest message id shown while the window was open (unread badge)
  open: "open", // sessionStorage: the window was open in this tab
});

export const CUSTOMER_SOCKET_PATH = "ws/customer";
export const HOST_TAG = "support-chat";

/**
 * UI strings. "{name}" placeholders are filled in by the widget. Notices
 * ("notice_<kind>") are the bridge's system messages: where a language has
 * none, the bridge's own (English) text is shown.
 */
export const STRINGS = Object.freeze({
  en: {
    title: "Support",
    greeting: "Hi! How can we help?",
    openChat: "Open chat",
    closeChat: "Close chat",
    unread: "Unread messages: {count}",
    talkToPerson: "Talk to a person",
    statusBot: "Virtual assistant",
    statusQueued: "Waiting for a person",
    statusAgent: "Chatting with {agent}",
    statusClosed: "Chat ended",
    statusConnecting: "Connecting…",
    conversation: "Conversation",
    you: "You",
    assistant: "Assistant",
    agent: "Support agent",
    notice: "Notice",
    sending: "Sending…",
    notSent: "Not sent: {reason}",
    readByAgent: "Read",
    suggestedReplies: "Suggested replies",
    botTyping: "The assistant is typing…",
    agentTyping: "{agent} is typing…",
    inputLabel: "Type your message",
    inputPlaceholder: "Type your message…",
    send: "Send",
    charactersLeft: "{count} characters left",
    connectionLost: "Connection lost",
    reconnectingIn: "reconnecting in {seconds} s",
    reconnecting: "reconnecting…",
    reconnectingHint: "Messages you send now are delivered once we're back.",
    retryNow: "Retry now",
    queuePosition: "You're number {position} in the queue",
    queueHint: "Keep this page open, or come back later: you keep your place.",
    queueWaitAbout: "Estimated wait: about {duration} (at most {most}).",
    queueWaitRange: "Estimated wait: {range}.",
    queueWaitUnderMinute: "Estimated wait: less than a minute.",
    noAgents: "No one from our team is available right now. Leave your details and we'll get back to you.",
    addDetails: "Add details",
    requestCallback: "Request a callback",
    leaveMessage: "Leave a message",
    detailsTitle: "Tell us more while you wait",
    detailsDescription: "What do you need help with?",
    contact: "Phone number or email",
    contactRequired: "Please enter a phone number or an email address so we can reply.",
    requestTitle: "We'll get back to you",
    requestKind: "How should we get back to you?",
    kindCallback: "Call me back",
    kindMessage: "Reply by message",
    requestDescription: "What is it about?",
    messageDescription: "Your message",
    preferredTime: "Best time to call (optional)",
    optional: "(optional)",
    saveDetails: "Save details",
    sendRequest: "Send request",
    cancel: "Cancel",
    dismiss: "Dismiss",
    detailsSaved: "Thanks, the person who joins will see these details.",
    callbackStored: "Thanks! We'll call you back as soon as we can.",
    messageStored: "Thanks, we've got your message. We'll reply as soon as we can.",
    ratingTitle: "How did we do?",
    ratingScore: "{score} out of 5: {label}",
    ratingLabels: ["Very poor", "Poor", "OK", "Good", "Excellent"],
    ratingComment: "Anything you'd like to add? (optional)",
    ratingSubmit: "Send rating",
    ratingChoose: "Please choose a rating from 1 to 5.",
    ratingThanks: "Thank you for your feedback!",
    error_rate_limited: "too many messages, slow down",
    error_too_large: "the message is too long",
    error_malformed: "the message could not be read",
    error_invalid_transition: "that isn't possible right now",
    error_default: "something went wrong",
  },
  es: {
    title: "Ayuda",
    greeting: "¡Hola! ¿En qué podemos ayudarte?",
    openChat: "Abrir el chat",
    closeChat: "Cerrar el chat",
    unread: "Mensajes sin leer: {count}",
    talkToPerson: "Hablar con una persona",
    statusBot: "Asistente virtual",
    statusQueued: "Esperando a una persona",
    statusAgent: "Hablando con {agent}",
    statusClosed: "Chat finalizado",
    statusConnecting: "Conectando…",
    conversation: "Conversación",
    you: "Tú",
    assistant: "Asistente",
    agent: "Agente de soporte",
    notice: "Aviso",
    sending: "Enviando…",
    notSent: "No enviado: {reason}",
    readByAgent: "Leído",
    suggestedReplies: "Respuestas sugeridas",
    botTyping: "El asistente está escribiendo…",
    agentTyping: "{agent} está escribiendo…",
    inputLabel: "Escribe tu mensaje",
    inputPlaceholder: "Escribe tu mensaje…",
    send: "Enviar",
    charactersLeft: "Quedan {count} caracteres",
    connectionLost: "Se perdió la conexión",
    reconnectingIn: "reconectando en {seconds} s",
    reconnecting: "reconectando…",
    reconnectingHint: "Lo que envíes ahora llegará en cuanto volvamos a estar conectados.",
    retryNow: "Reintentar ahora",
    queuePosition: "Eres el número {position} en la cola",
    queueHint: "Puedes dejar esta página abierta o volver más tarde: conservas tu lugar.",
    queueWaitAbout: "Espera estimada: unos {duration} (como mucho {most}).",
    queueWaitRange: "Espera estimada: {range}.",
    queueWaitUnderMinute: "Espera estimada: menos de un minuto.",
    noAgents: "Ahora mismo no hay nadie disponible en nuestro equipo. Déjanos tus datos y te responderemos.",
    addDetails: "Añadir detalles",
    requestCallback: "Pedir que te llamemos",
    leaveMessage: "Dejar un mensaje",
    detailsTitle: "Cuéntanos más mientras esperas",
    detailsDescription: "¿Con qué necesitas ayuda?",
    contact: "Teléfono o correo electrónico",
    contactRequired: "Indica un teléfono o un correo electrónico para poder responderte.",
    requestTitle: "Te responderemos",
    requestKind: "¿Cómo prefieres que te respondamos?",
    kindCallback: "Llamadme",
    kindMessage: "Respondedme por mensaje",
    requestDescription: "¿De qué se trata?",
    messageDescription: "Tu mensaje",
    preferredTime: "Mejor hora para llamarte (opcional)",
    optional: "(opcional)",
    saveDetails: "Guardar detalles",
    sendRequest: "Enviar solicitud",
    cancel: "Cancelar",
    dismiss: "Cerrar",
    detailsSaved: "Gracias, la persona que te atienda verá estos detalles.",
    callbackStored: "¡Gracias! Te llamaremos lo antes posible.",
    messageStored: "Gracias, hemos recibido tu mensaje. Te responderemos lo antes posible.",
    ratingTitle: "¿Qué tal te hemos atendido?",
    ratingScore: "{score} de 5: {label}",
    ratingLabels: ["Muy mal", "Mal", "Regular", "Bien", "Excelente"],
    ratingComment: "¿Quieres añadir algo? (opcional)",
    ratingSubmit: "Enviar valoración",
    ratingChoose: "Elige una valoración del 1 al 5.",
    ratingThanks: "¡Gracias por tu opinión!",
    error_rate_limited: "demasiados mensajes, ve más despacio",
    error_too_large: "el mensaje es demasiado largo",
    error_malformed: "no se pudo leer el mensaje",
    error_invalid_transition: "eso no es posible ahora",
    error_default: "algo salió mal",
    notice_agent_joined: "Una persona de nuestro equipo de soporte se ha unido al chat.",
    notice_back_to_bot: "Vuelves a hablar con el asistente. Pregúntame lo que quieras.",
    notice_agent_lost: "Tu agente se ha desconectado. Conservas el primer lugar en la cola.",
    notice_transferred: "Te estamos pasando con un compañero que puede ayudarte con esto.",
    notice_closed: "El agente ha cerrado este chat.",
    notice_rate: "¿Qué tal te hemos atendido? Valora este chat del 1 al 5.",
    notice_no_agents: "Ahora mismo no hay nadie disponible. Puedes esperar, pedir que te llamemos o dejar un mensaje.",
    notice_bot_unavailable: "Lo sentimos, el asistente no está disponible ahora. Te pasamos con una persona.",
    notice_request_stored: "Gracias, tenemos tus datos. Nuestro equipo se pondrá en contacto contigo.",
  },
  ar: {
    title: "الدعم",
    greeting: "مرحبًا! كيف يمكننا مساعدتك؟",
    openChat: "فتح المحادثة",
    closeChat: "إغلاق المحادثة",
    unread: "رسائل غير مقروءة: {count}",
    talkToPerson: "التحدث إلى موظف",
    statusBot: "المساعد الافتراضي",
    statusQueued: "في انتظار أحد الموظفين",
    statusAgent: "تتحدث مع {agent}",
    statusClosed: "انتهت المحادثة",
    statusConnecting: "جارٍ الاتصال…",
    conversation: "المحادثة",
    you: "أنت",
    assistant: "المساعد",
    agent: "موظف الدعم",
    notice: "تنبيه",
    sending: "جارٍ الإرسال…",
    notSent: "لم تُرسل: {reason}",
    readByAgent: "تمت القراءة",
    suggestedReplies: "ردود مقترحة",
    botTyping: "المساعد يكتب…",
    agentTyping: "{agent} يكتب…",
    inputLabel: "اكتب رسالتك",
    inputPlaceholder: "اكتب رسالتك…",
    send: "إرسال",
    charactersLeft: "الأحرف المتبقية: {count}",
    connectionLost: "انقطع الاتصال",
    reconnectingIn: "إعادة الاتصال خلال {seconds} ث",
    reconnecting: "جارٍ إعادة الاتصال…",
    reconnectingHint: "ستصل الرسائل التي ترسلها الآن فور عودة الاتصال.",
    retryNow: "أعد المحاولة الآن",
    queuePosition: "ترتيبك {position} في قائمة الانتظار",
    queueHint: "يمكنك إبقاء هذه الصفحة مفتوحة أو العودة لاحقًا، وسيبقى دورك محفوظًا.",
    queueWaitAbout: "مدة الانتظار المتوقعة: حوالي {duration} (بحد أقصى {most}).",
    queueWaitRange: "مدة الانتظار المتوقعة: {range}.",
    queueWaitUnderMinute: "مدة الانتظار المتوقعة: أقل من دقيقة.",
    noAgents: "لا يتوفر أحد من فريقنا الآن. اترك بياناتك وسنعاود التواصل معك.",
    addDetails: "إضافة تفاصيل",
    requestCallback: "طلب معاودة الاتصال",
    leaveMessage: "ترك رسالة",
    detailsTitle: "أخبرنا بالمزيد أثناء الانتظار",
    detailsDescription: "بماذا تحتاج المساعدة؟",
    contact: "رقم الهاتف أو البريد الإلكتروني",
    contactRequired: "يُرجى إدخال رقم هاتف أو بريد إلكتروني لنتمكن من الرد عليك.",
    requestTitle: "سنعاود التواصل معك",
    requestKind: "كيف تفضّل أن نتواصل معك؟",
    kindCallback: "اتصلوا بي",
    kindMessage: "ردّوا برسالة",
    requestDescription: "ما موضوع طلبك؟",
    messageDescription: "رسالتك",
    preferredTime: "أنسب وقت للاتصال (اختياري)",
    optional: "(اختياري)",
    saveDetails: "حفظ التفاصيل",
    sendRequest: "إرسال الطلب",
    cancel: "إلغاء",
    dismiss: "إغلاق",
    detailsSaved: "شكرًا، سيطّلع الموظف على هذه التفاصيل.",
    callbackStored: "شكرًا! سنتصل بك في أقرب وقت ممكن.",
    messageStored: "شكرًا، وصلتنا رسالتك وسنرد عليك في أقرب وقت ممكن.",
    ratingTitle: "كيف كانت تجربتك معنا؟",
    ratingScore: "{score} من 5: {label}",
    ratingLabels: ["سيئة جدًا", "سيئة", "مقبولة", "جيدة", "ممتازة"],
    ratingComment: "هل تود إضافة شيء؟ (اختياري)",
    ratingSubmit: "إرسال التقييم",
    ratingChoose: "يُرجى اختيار تقييم من 1 إلى 5.",
    ratingThanks: "شكرًا على ملاحظاتك!",
    error_rate_limited: "رسائل كثيرة جدًا، تمهّل قليلًا",
    error_too_large: "الرسالة طويلة جدًا",
    error_malformed: "تعذّرت قراءة الرسالة",
    error_invalid_transition: "هذا غير ممكن الآن",
    error_default: "حدث خطأ ما",
    notice_agent_joined: "انضم أحد موظفي فريق الدعم إلى المحادثة.",
    notice_back_to_bot: "عدت إلى المساعد الافتراضي. اسألني عن أي شيء.",
    notice_agent_lost: "انقطع اتصال الموظف. ستبقى في مقدمة قائمة الانتظار.",
    notice_transferred: "نحوّلك إلى زميل يمكنه مساعدتك في هذا الأمر.",
    notice_closed: "أغلق الموظف هذه المحادثة.",
    notice_rate: "كيف كانت تجربتك معنا؟ يُرجى تقييم هذه المحادثة من 1 إلى 5.",
    notice_no_agents: "لا يتوفر أحد من فريقنا الآن. يمكنك الانتظار أو طلب معاودة الاتصال أو ترك رسالة.",
    notice_bot_unavailable: "عذرًا، المساعد غير متاح حاليًا. سنحوّلك إلى أحد الموظفين.",
    notice_request_stored: "شكرًا، وصلتنا بياناتك وسيتواصل معك فريقنا.",
  },
});
