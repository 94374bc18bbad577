(function(){
var script=document.currentScript;
if(!script||!window.customElements)return;
var ORIGIN=new URL(script.src,location.href).origin;
var TAG="donate-widget";
var ATTRS=["campaign","mode","amounts","lang","color"];
var CSS=":host{display:block}iframe{display:block;width:100%;border:0}"+
"button{font:600 1em system-ui,sans-serif;padding:.7em 1.3em;border-radius:.4em;border:0;cursor:pointer;background:var(--c,#166534);color:var(--t,#fff)}"+
":focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}"+
".float{position:fixed;right:1rem;bottom:1rem;z-index:2147483000;box-shadow:0 2px 8px #0006}"+
".overlay{position:fixed;inset:0;z-index:2147483001;background:#0009;overflow:auto;padding:2vh 1rem}"+
".dialog{background:#fff;border-radius:.5em;max-width:34rem;margin:auto;position:relative;padding-top:2.6rem}"+
".close{position:absolute;top:.3rem;right:.3rem;padding:.3em .6em;background:#fff;color:#111;border:1px solid #767676}";
var TEXT={
fr:{give:"Faire un don",close:"Fermer",frame:"Formulaire de don"},
en:{give:"Donate",close:"Close",frame:"Donation form"}
};
var counter=0;
function el(root,name,props){
var node=document.createElement(name);
for(var k in props)node[k]=props[k];
if(root)root.appendChild(node);
return node;
}
class Widget extends HTMLElement{
connectedCallback(){
if(this._root)return;
var self=this;
var id=this.getAttribute("campaign")||"";
var mode=this.getAttribute("mode")||"inline";
var lang=this.getAttribute("lang")==="en"?"en":"fr";
var color=this.getAttribute("color")||"";
var amounts=this.getAttribute("amounts")||"";
var text=TEXT[lang];
counter+=1;
var wid="dw"+counter;
var root=(this._root=this.attachShadow({mode:"open"}));
var sheet=new CSSStyleSheet();
sheet.replaceSync(CSS);
root.adoptedStyleSheets=[sheet];
var host=el(root,"div",{});
if(/^#[0-9a-fA-F]{6}$/.test(color)){
host.style.setProperty("--c",color);
var n=parseInt(color.slice(1),16);
var lum=0.299*(n>>16)+0.587*((n>>8)&255)+0.114*(n&255);
host.style.setProperty("--t",lum>150?"#111":"#fff");
}
var frame=null;
var query="?lang="+lang+"&mode="+encodeURIComponent(mode);
if(/^\d{1,7}(,\d{1,7}){0,5}$/.test(amounts))query+="&amounts="+amounts;
if(color)query+="&color="+encodeURIComponent(color);
var src=ORIGIN+"/embed/"+encodeURIComponent(id)+query+
"#o="+encodeURIComponent(location.origin)+"&i="+wid;
function makeFrame(parent){
frame=el(parent,"iframe",{src:src,title:text.frame});
frame.setAttribute("sandbox","allow-scripts allow-same-origin allow-forms allow-popups "+
"allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation");
frame.style.height="420px";
return frame;
}
var overlay=null,opener=null;
function close(){
if(!overlay)return;
overlay.hidden=true;
if(opener)opener.focus();
}
function open(){
if(!overlay){
overlay=el(host,"div",{className:"overlay"});
var dialog=el(overlay,"div",{className:"dialog"});
dialog.setAttribute("role","dialog");
dialog.setAttribute("aria-modal","true");
dialog.setAttribute("aria-label",text.frame);
var first=el(dialog,"span",{tabIndex:0});
var closer=el(dialog,"button",{className:"close",textContent:"×",type:"button"});
closer.setAttribute("aria-label",text.close);
closer.onclick=close;
makeFrame(dialog);
var last=el(dialog,"span",{tabIndex:0});
first.onfocus=function(){frame.focus();post({type:"donate:focus-last"});};
last.onfocus=function(){closer.focus();};
overlay.onclick=function(e){if(e.target===overlay)close();};
overlay.onkeydown=function(e){if(e.key==="Escape")close();};
self._closer=closer;
}
overlay.hidden=false;
self._closer.focus();
}
function post(msg){
msg.id=wid;
if(frame&&frame.contentWindow)frame.contentWindow.postMessage(msg,ORIGIN);
}
if(mode==="button"||mode==="popup"){
opener=el(host,"button",{type:"button",textContent:text.give});
if(mode==="popup")opener.className="float";
opener.onclick=open;
}else{
makeFrame(host);
}
window.addEventListener("message",function(e){
if(!frame||e.origin!==ORIGIN||e.source!==frame.contentWindow)return;
var d=e.data;
if(!d||d.id!==wid)return;
if(d.type==="donate:height"&&d.height>0){
frame.style.height=Math.min(d.height,9999)+"px";
}else if(d.type==="donate:escape"){
close();
}
});
}
}
if(!customElements.get(TAG))customElements.define(TAG,Widget);
if(script.hasAttribute("data-campaign")){
var w=document.createElement(TAG);
ATTRS.forEach(function(a){
var v=script.getAttribute("data-"+a);
if(v)w.setAttribute(a,v);
});
script.parentNode.insertBefore(w,script.nextSibling);
}
})();
